from proxy_engine.cli import main

raise SystemExit(main())
