from chestview.cli.main import main

if __name__ == "__main__":  # not when a spawned child process (a training job) imports it as __mp_main__
    raise SystemExit(main())
