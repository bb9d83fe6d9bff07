import PortcullisCLI

await PortcullisCommand.runMain()
