from tmuxweb.cli import main

raise SystemExit(main())
