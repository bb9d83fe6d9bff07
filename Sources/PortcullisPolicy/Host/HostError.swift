/// Why a host, pattern or address was refused. `message` is the sentence shown to the
/// operator; it names the accepted form (and, for CIDRs with host bits, the right prefix).
public struct HostError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let empty = Code("empty")
        public static let tooLong = Code("too-long")
        public static let labelTooLong = Code("label-too-long")
        public static let emptyLabel = Code("empty-label")
        public static let invalidCharacter = Code("invalid-character")
        public static let controlCharacter = Code("control-character")
        public static let whitespace = Code("whitespace")
        public static let scheme = Code("scheme")
        public static let path = Code("path")
        public static let port = Code("port")
        public static let userinfo = Code("userinfo")
        public static let percentEncoding = Code("percent-encoding")
        public static let zoneID = Code("zone-id")
        public static let bareWildcard = Code("bare-wildcard")
        public static let misplacedWildcard = Code("misplaced-wildcard")
        public static let wildcardOverPublicSuffix = Code("wildcard-over-public-suffix")
        public static let wildcardNotAllowed = Code("wildcard-not-allowed")
        public static let invalidIPv4 = Code("invalid-ipv4")
        public static let invalidIPv6 = Code("invalid-ipv6")
        public static let invalidPrefix = Code("invalid-prefix")
        public static let hostBitsSet = Code("host-bits-set")
        public static let cidrNotAllowed = Code("cidr-not-allowed")
        public static let invalidIDN = Code("invalid-idn")
        public static let hyphen = Code("hyphen")
        /// A name where only an IP address or CIDR is accepted (`parseNetwork`).
        public static let notAnAddress = Code("not-an-address")
    }

    public let code: Code
    /// The input as given (for messages; callers escape it before logging).
    public let input: String
    public let message: String

    public init(_ code: Code, input: String, message: String) {
        self.code = code
        self.input = input
        self.message = message
    }

    public var description: String { message }
}
