from chestview.cli.main import main

raise SystemExit(main())
