import NIOHTTP1
import Testing
@testable import PortcullisProxy

/// The fields a hop drops: the fixed hop-by-hop set and what `Connection` lists.
@Suite struct HopByHopTests {
    @Test func theConnectionHeaderListsEveryTokenLowerCasedAndTrimmed() {
        let headers = HTTPHeaders([("Connection", " X-One ,\tx-two,, KEEP-ALIVE"), ("connection", "Close, X-Three"),
                                   ("X-Connection", "x-not-listed")])
        #expect(headers.connectionListed() == ["x-one", "x-two", "x-three"])
    }

    @Test func optionsAlreadyHopByHopAreNotListedAgain() {
        let headers = HTTPHeaders([("Connection", "close"), ("Connection", "keep-alive, TE, upgrade")])
        #expect(headers.connectionListed().isEmpty)
    }

    @Test func aListedFieldAndTheReservedCloseFieldAreDropped() {
        let headers = HTTPHeaders([("Connection", "X-Hop"), ("X-Hop", "1"), ("Close", "1"), ("X-Kept", "2"),
                                   ("Keep-Alive", "timeout=5"), ("Proxy-Foo", "3")])
        let kept = headers.removingHopByHop()
        #expect(kept.map(\.name) == ["X-Kept"])
    }
}
