from rtcstate.cli import main

main()
