from flowhooks_server.cli import main

raise SystemExit(main())
