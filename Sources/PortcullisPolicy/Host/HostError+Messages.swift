/// The refusals `HostParser` raises, one sentence each, naming what is accepted.
///
/// Input is always echoed through `Escape.quoted(_:)`, so hostile text is shown escaped.
extension HostError {
    static let acceptedPattern = "write a name (api.example.com), a wildcard (*.example.com), an IP or a CIDR"
    static let acceptedTarget = "write a name (api.example.com) or an IP address"

    static func accepted(_ mode: HostParser.Mode) -> String {
        switch mode {
        case .pattern: return acceptedPattern
        case .target: return acceptedTarget
        case .network: return "write an IP address or a CIDR (10.0.0.0/8, 2001:db8::/32)"
        case .address: return "write an IP address (10.0.0.1, 2001:db8::1)"
        }
    }

    static func empty(_ mode: HostParser.Mode) -> HostError {
        HostError(.empty, input: "", message: "the host is empty; " + accepted(mode))
    }

    static func inputTooLong(_ input: String, bytes: Int) -> HostError {
        HostError(.tooLong, input: input, message: "the host is \(bytes) bytes long, over the limit of \(HostParser.maxInputBytes); a host name has at most 253 characters")
    }

    static func nameTooLong(_ input: String, length: Int, limit: Int) -> HostError {
        HostError(.tooLong, input: input, message: "\(Escape.quoted(input)) is \(length) characters long as a DNS name; a host name has at most \(limit) characters")
    }

    static func labelTooLong(_ input: String, length: Int) -> HostError {
        HostError(.labelTooLong, input: input, message: "\(Escape.quoted(input)) has a label of \(length) characters; each dot-separated label of a name has 1 to 63 characters")
    }

    static func emptyLabel(_ input: String) -> HostError {
        HostError(.emptyLabel, input: input, message: "\(Escape.quoted(input)) has an empty label (a leading dot or two dots in a row); write labels separated by single dots (api.example.com)")
    }

    static func invalidCharacter(_ input: String, _ character: String) -> HostError {
        HostError(.invalidCharacter, input: input, message: "\(Escape.quoted(input)) contains \(Escape.quoted(character)), which a host name cannot hold; names use letters, digits, hyphens and underscores (api.example.com)")
    }

    static func fullwidth(_ input: String, _ character: String) -> HostError {
        HostError(.invalidCharacter, input: input, message: "\(Escape.quoted(input)) contains the fullwidth form \(Escape.quoted(character)); write the host in plain ASCII letters, digits and punctuation (api.example.com)")
    }

    static func controlCharacter(_ input: String) -> HostError {
        HostError(.controlCharacter, input: input, message: "\(Escape.quoted(input)) contains a control character; a host holds only letters, digits, dots and hyphens (api.example.com)")
    }

    static func whitespace(_ input: String) -> HostError {
        HostError(.whitespace, input: input, message: "\(Escape.quoted(input)) contains white space; write the host alone, with no spaces or tabs (api.example.com)")
    }

    static func scheme(_ input: String) -> HostError {
        HostError(.scheme, input: input, message: "\(Escape.quoted(input)) has a scheme; write the host alone, without http:// or https:// (api.example.com)")
    }

    static func path(_ input: String) -> HostError {
        HostError(.path, input: input, message: "\(Escape.quoted(input)) has a path; write the host alone (api.example.com) and put paths in the rule's paths field")
    }

    static func port(_ input: String, _ mode: HostParser.Mode) -> HostError {
        switch mode {
        case .pattern, .network:
            return HostError(.port, input: input, message: "\(Escape.quoted(input)) has a port; write the host alone (api.example.com) and use the port field")
        case .target, .address:
            return HostError(.port, input: input, message: "\(Escape.quoted(input)) has a port; pass the host alone (api.example.com, or [2001:db8::1] for IPv6) and the port separately")
        }
    }

    static func userinfo(_ input: String) -> HostError {
        HostError(.userinfo, input: input, message: "\(Escape.quoted(input)) has a user name (user@); write the host alone (api.example.com)")
    }

    static func percentEncoding(_ input: String) -> HostError {
        HostError(.percentEncoding, input: input, message: "\(Escape.quoted(input)) contains percent-encoding; write the host in plain text (api.example.com, or bücher.example for an IDN)")
    }

    static func zoneID(_ input: String) -> HostError {
        HostError(.zoneID, input: input, message: "\(Escape.quoted(input)) has a zone id (%…); write the IPv6 address without a zone (fe80::1)")
    }

    static func bareWildcard(_ input: String) -> HostError {
        HostError(.bareWildcard, input: input, message: "\"*\" alone is not a host; " + acceptedPattern)
    }

    static func misplacedWildcard(_ input: String) -> HostError {
        HostError(.misplacedWildcard, input: input, message: "\(Escape.quoted(input)) has a \"*\" that is not the whole leading label; a wildcard is written *.example.com")
    }

    static func wildcardOverPublicSuffix(_ input: String, suffix: String) -> HostError {
        HostError(.wildcardOverPublicSuffix, input: input, message: "\(Escape.quoted(input)) would cover every name under the public suffix \(Escape.quoted(suffix)); write a wildcard under a registrable domain (*.example.com)")
    }

    static func wildcardNotAllowed(_ input: String) -> HostError {
        HostError(.wildcardNotAllowed, input: input, message: "\(Escape.quoted(input)) contains \"*\", but a connection target is one host; " + acceptedTarget)
    }

    static func cidrNotAllowed(_ input: String) -> HostError {
        HostError(.cidrNotAllowed, input: input, message: "\(Escape.quoted(input)) is a CIDR, but a connection target is one host; " + acceptedTarget)
    }

    static func invalidIPv4(_ input: String) -> HostError {
        HostError(.invalidIPv4, input: input, message: "\(Escape.quoted(input)) ends in a number, so it is read as an IPv4 address, and it is not a valid one; write four numbers 0–255 (10.0.0.1)")
    }

    static func strictIPv4(_ input: String) -> HostError {
        HostError(.invalidIPv4, input: input, message: "\(Escape.quoted(input)) is not a valid IPv4 CIDR; in a CIDR the address is four decimal numbers 0–255 without leading zeros (10.0.0.0/8)")
    }

    static func invalidIPv6(_ input: String) -> HostError {
        HostError(.invalidIPv6, input: input, message: "\(Escape.quoted(input)) is not a valid IPv6 address; write up to eight groups of 1–4 hex digits with at most one :: (2001:db8::1), in brackets only when a port follows elsewhere")
    }

    static func invalidPrefix(_ input: String, max: Int) -> HostError {
        HostError(.invalidPrefix, input: input, message: "\(Escape.quoted(input)) has an invalid prefix length; after the / write a decimal number from 0 to \(max) without sign or leading zeros (10.0.0.0/8)")
    }

    static func hostBitsSet(_ input: String, corrected: String) -> HostError {
        HostError(.hostBitsSet, input: input, message: "\(Escape.quoted(input)) has host bits set; did you mean \(corrected)?")
    }

    static func invalidIDN(_ input: String) -> HostError {
        HostError(.invalidIDN, input: input, message: "\(Escape.quoted(input)) has an xn-- label that is not valid Punycode for a lower-case Unicode name; write the name in Unicode (bücher.example) or its exact A-label (xn--bcher-kva.example)")
    }

    static func hyphen(_ input: String) -> HostError {
        HostError(.hyphen, input: input, message: "\(Escape.quoted(input)) has a label that starts or ends with a hyphen; hyphens go only inside labels (my-api.example.com)")
    }

    static func notAnAddress(_ input: String, _ mode: HostParser.Mode) -> HostError {
        HostError(.notAnAddress, input: input, message: "\(Escape.quoted(input)) is a name, not an IP literal; " + accepted(mode))
    }
}
