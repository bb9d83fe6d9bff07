import PortcullisCLI

await PortcullisCommand.main()
