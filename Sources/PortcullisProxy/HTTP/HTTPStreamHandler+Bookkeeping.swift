import NIOCore
import NIOHTTP1
import PortcullisPolicy
import PortcullisWire

/// What a stream keeps per request and between requests: the exchange being answered, the
/// upstream kept for the next request, the last decision's reason text.
extension HTTPStreamHandler {
    /// One request being answered.
    final class Exchange {
        var record: AuditRecord
        let request: CheckedRequest
        let target: Target
        let sandbox: SandboxContext
        let keepAlive: Bool
        var upstream: UpstreamHTTPHandler?
        var upstreamChannel: (any Channel)?
        var address: IPAddress?
        /// Body parts that arrived before the upstream was ready.
        var buffered: [HTTPServerRequestPart] = []
        var requestComplete = false
        var responseStarted = false
        var upstreamKeepAlive = true
        var live: LiveConnection?
        /// Forward mode: the request holds one of the sandbox's connection slots.
        var counted = false
        /// The entry was written.
        var finished = false
        /// The client's header fields as received.
        let headers: HTTPHeaders
        /// Credentials injected (`CredentialGate`): the header values (by the field's position
        /// in `headers`) and the query to send instead.
        var injected: (values: InjectedValues, query: String?, names: [String])?
        /// Replaces injected secrets in the response (nil: nothing was injected).
        var scrubber: SecretScrubber?
        /// A scrubbed response with a small `Content-Length`, held until its body is whole
        /// (`scrubResponseHead`): its head (the length left out) and the body so far.
        var heldResponse: (head: HTTPResponseHead, body: ByteBuffer?)?
        /// The last bytes of the body so far, so a placeholder split across chunks is seen.
        var bodyTail: [UInt8] = []
        /// A small body is being held whole before the head goes out.
        var holding = false
        /// gRPC status fields of a trailers-only response, sent as the stream's trailers.
        var statusTrailers: HTTPHeaders?

        init(record: AuditRecord, request: CheckedRequest, headers: HTTPHeaders, target: Target, sandbox: SandboxContext,
             keepAlive: Bool) {
            self.record = record
            self.request = request
            self.headers = headers
            self.target = target
            self.sandbox = sandbox
            self.keepAlive = keepAlive
        }
    }

    /// A decision and its reason text (one allocation, only for streams of several requests).
    final class ReasonMemo {
        let decision: Decision
        let text: String
        init(decision: Decision, text: String) {
            self.decision = decision
            self.text = text
        }
    }

    /// The identity a request's `Proxy-Authorization` (or its absence) was given, at one
    /// `SandboxDirectory.generation`.
    struct IdentityMemo {
        let generation: UInt64
        let header: String?
        let sandbox: SandboxContext
    }

    /// A name-stage decision, at one generation, for one sandbox's policy and one target.
    struct DecisionMemo {
        let generation: UInt64
        let sandboxID: String
        let policyVersion: UInt64
        let target: Target
        let decision: Decision
    }

    /// Forward mode: an upstream connection kept for the next request to the same place.
    struct IdleUpstream {
        let sandboxID: String
        let host: TargetHost
        let port: UInt16
        let address: IPAddress
        let channel: any Channel
        let handler: UpstreamHTTPHandler
        let live: LiveConnection
    }
}
