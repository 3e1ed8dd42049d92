from claudechat.cli import main

main()
