from claudechat.entry import main

main()
