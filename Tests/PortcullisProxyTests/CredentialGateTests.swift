import NIOCore
import NIOHTTP1
import PortcullisPolicy
import PortcullisWire
import Testing
@testable import PortcullisProxy

/// The request side of credentials, one rule per test: where a placeholder may stand, what
/// it becomes, what is refused.
@Suite("Credential placeholders in requests")
struct CredentialGateTests {
    static let key = "pcx_" + String(repeating: "a", count: 32)
    static let basicKey = "pcx_" + String(repeating: "b", count: 32)
    static let queryKey = "pcx_" + String(repeating: "c", count: 32)
    static let other = "pcx_" + String(repeating: "z", count: 32)
    static let api = HostPattern.exact(DomainName(canonical: "api.test"))
    static let bindings = [
        CredentialBinding(name: "openai", placeholder: key, host: api, pathPrefix: "/v1",
                          placement: .header(name: "Authorization", format: "Bearer {secret}"), secret: "sk-REAL"),
        CredentialBinding(name: "git", placeholder: basicKey, host: .exact(DomainName(canonical: "git.test")), placement: .basic,
                          secret: "gh-REAL"),
        CredentialBinding(name: "maps", placeholder: queryKey, host: .wildcard(DomainName(canonical: "maps.test")),
                          placement: .query(name: "key"), require: true, secret: "mk REAL/1"),
    ]

    func check(_ headers: [(String, String)], path: String = "/v1/chat", query: String? = nil, method: String = "POST",
               host: String = "api.test", port: UInt16 = 443, terminated: Bool = true) -> CredentialGate.Outcome {
        CredentialGate.check(headers: HTTPHeaders(headers), path: path, query: query, method: method,
                             host: try! HostParser.parseTarget(host), port: port, terminated: terminated, bindings: Self.bindings)
    }

    @Test func theDeclaredHeaderGetsItsWholeValueFromTheFormat() {
        let sent = [("Authorization", "Bearer \(Self.key)"), ("X-A", "1")]
        guard case .inject(let values, _, let names) = check(sent) else {
            Issue.record("not injected"); return
        }
        let headers = values.applied(to: HTTPHeaders(sent))
        #expect(headers["authorization"] == ["Bearer sk-REAL"] && headers["x-a"] == ["1"] && names == ["openai"])
        #expect(values.value(at: 0) == "Bearer sk-REAL" && values.value(at: 1) == nil, "only the declared field gets a value")
    }

    /// Header names match in any case, and only ASCII letters fold: `[` is not `{`, `@` is
    /// not a backtick (the comparison reads bytes, with no lower-cased copy).
    @Test func headerNamesMatchInAnyCaseAndOnlyLettersFold() {
        guard case .inject(let values, _, _) = check([("AUTHORIZATION", "Bearer \(Self.key)")]) else {
            Issue.record("not injected"); return
        }
        #expect(values.value(at: 0) == "Bearer sk-REAL")
        #expect(check([("aUtHoRiZaTiOn", "Basic " + Base64.encode(Array("u:\(Self.basicKey)".utf8)))]) != .pass,
                "a Basic value under any spelling of the name is decoded")
        #expect("Content-Length".equalsASCIIIgnoringCase("content-LENGTH"))
        #expect(!"x-[".equalsASCIIIgnoringCase("x-{") && !"a@".equalsASCIIIgnoringCase("a`") && !"ab".equalsASCIIIgnoringCase("abc"))
    }

    @Test func theBasicPasswordIsReplacedAndTheUsernameKept() {
        let value = BasicCredentials.encode(user: "git", password: Self.basicKey)
        guard case .inject(let values, _, _) = check([("Accept", "*/*"), ("Authorization", value)], path: "/repo.git/info/refs",
                                                     method: "GET", host: "git.test") else { Issue.record("not injected"); return }
        #expect(values.value(at: 0) == nil && BasicCredentials.decode(values.value(at: 1)!)! == ("git", "gh-REAL"))
    }

    /// `Basic` after spaces is still Basic: the quick test before decoding lets it through
    /// to the decoder, which takes it (a placeholder hidden there is never passed along).
    @Test func aBasicValueAfterSpacesIsStillSeen() {
        let value = "  " + BasicCredentials.encode(user: "git", password: Self.basicKey)
        #expect(CredentialGate.mayCarryPlaceholder(path: "/repo.git", query: nil, headers: HTTPHeaders([("Authorization", value)])))
        guard case .inject(let values, _, _) = check([("Authorization", value)], path: "/repo.git/info/refs", method: "GET",
                                                     host: "git.test") else { Issue.record("not injected"); return }
        #expect(BasicCredentials.decode(values.value(at: 0)!)! == ("git", "gh-REAL"))
        #expect(!BasicCredentials.mayBe("Bearer \(Self.key)") && BasicCredentials.mayBe("bAsIc eA=="))
        #expect(check([("Authorization", "  " + BasicCredentials.encode(user: "git", password: Self.basicKey))],
                      path: "/v1/chat") != .pass, "another host's Basic placeholder is a misuse, spaces or not")
    }

    @Test func theQueryParameterGetsThePercentEncodedSecret() {
        guard case .inject(_, let query, _) = check([], path: "/geo", query: "q=x&key=\(Self.queryKey)", method: "GET",
                                                    host: "eu.maps.test") else { Issue.record("not injected"); return }
        #expect(query == "q=x&key=mk%20REAL%2F1")
    }

    @Test("a placeholder anywhere else is a misuse", arguments: [
        ("another header", [("X-Api-Key", key)], "/v1/chat", nil as String?, "api.test", UInt16(443), true),
        ("another host", [("Authorization", "Bearer \(key)")], "/v1/chat", nil, "evil.test", 443, true),
        ("another port", [("Authorization", "Bearer \(key)")], "/v1/chat", nil, "api.test", 8443, true),
        ("outside the path prefix", [("Authorization", "Bearer \(key)")], "/v2/chat", nil, "api.test", 443, true),
        ("plain HTTP", [("Authorization", "Bearer \(key)")], "/v1/chat", nil, "api.test", 443, false),
        ("the path", [], "/v1/\(key)", nil, "api.test", 443, true),
        ("another parameter", [], "/v1/chat", "token=\(queryKey)", "maps.test", 443, true),
        ("an unknown or revoked placeholder", [("Authorization", "Bearer \(other)")], "/v1/chat", nil, "api.test", 443, true),
        ("the Basic username", [("Authorization", BasicCredentials.encode(user: basicKey, password: "x"))], "/", nil,
         "git.test", 443, true),
        ("a query value of the header's credential", [], "/v1/chat", "key=\(key)", "api.test", 443, true),
    ] as [(String, [(String, String)], String, String?, String, UInt16, Bool)])
    func misuse(_ where: String, headers: [(String, String)], path: String, query: String?, host: String, port: UInt16,
                terminated: Bool) {
        guard case .misuse = check(headers, path: path, query: query, host: host, port: port, terminated: terminated) else {
            Issue.record("a placeholder in \(`where`) was not refused"); return
        }
    }

    @Test func aRequiredCredentialWithoutItsPlaceholderIsRefused() {
        #expect(check([], path: "/geo", method: "GET", host: "eu.maps.test") == .required("maps"))
        #expect(check([], path: "/geo", method: "GET", host: "eu.maps.test", terminated: false) == .pass)
        #expect(check([], path: "/geo", method: "GET", host: "maps.test") == .pass, "a wildcard never covers its apex")
        #expect(check([("Accept", "*/*")]) == .pass)
    }

    /// The fast path (nothing copied when no placeholder can be there) must never skip one.
    @Test func onlyARequestWithoutAnyPlaceholderOrBasicCredentialsTakesTheFastPath() {
        func may(_ headers: [(String, String)], path: String = "/v1/chat", query: String? = nil) -> Bool {
            CredentialGate.mayCarryPlaceholder(path: path, query: query, headers: HTTPHeaders(headers))
        }
        #expect(!may([("Accept", "*/*"), ("Authorization", "Bearer sk-own-token")], query: "q=1"))
        #expect(may([("X-A", "x \(Self.key) y")]))
        #expect(may([("X-\(Self.key)", "1")]))
        #expect(may([], path: "/v1/\(Self.key)"))
        #expect(may([], query: "a=\(Self.key)"))
        // Basic credentials are decoded on the slow path: base64 hides a placeholder.
        #expect(may([("authorization", "basic " + Base64.encode(Array("u:p".utf8)))]))
        #expect(may([("Proxy-Authorization", "Basic " + Base64.encode(Array("u:p".utf8)))]))
        #expect(!may([("X-Authorization", "Basic abc")]))
    }

    @Test func bindingsCoverTheirPrefixOnASegmentBoundary() {
        let b = Self.bindings[0]
        #expect(b.covers(.name(DomainName(canonical: "api.test")), port: 443, method: "GET", canonicalPath: "/v1"))
        #expect(b.covers(.name(DomainName(canonical: "api.test")), port: 443, method: "GET", canonicalPath: "/v1/x"))
        #expect(!b.covers(.name(DomainName(canonical: "api.test")), port: 443, method: "GET", canonicalPath: "/v12"))
        #expect(!"\(b)".contains("sk-REAL"), "a binding never prints its secret")
    }

    @Test func placeholdersAreExactly32Base32Characters() {
        #expect(Placeholders.find(in: "x \(Self.key) y") == [Self.key])
        #expect(Placeholders.find(in: Self.key + "a").isEmpty, "33 characters is no placeholder")
        #expect(Placeholders.find(in: "pcx_" + String(repeating: "1", count: 32)).isEmpty, "1 is not base-32")
        #expect(Placeholders.find(in: "pcx_pcx_" + String(repeating: "a", count: 32)) == [Self.key])
    }
}

@Suite("Secrets scrubbed from responses")
struct SecretScrubberTests {
    static let binding = CredentialBinding(name: "openai", placeholder: CredentialGateTests.key,
                                           host: CredentialGateTests.api, placement: .basic, secret: "sk-live-0123456789abcdef")

    func scrubAll(_ text: String, chunk: Int) -> (String, Set<String>) {
        var scrubber = SecretScrubber([Self.binding])
        var out = ""
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let part = ByteBuffer(bytes: bytes[i..<min(i + chunk, bytes.count)])
            out += String(buffer: scrubber.scrub(part))
            i += chunk
        }
        out += String(buffer: scrubber.finish())
        return (out, scrubber.reflected)
    }

    /// A secret with the characters encoders disagree on: each common spelling of it is
    /// scrubbed (the review's F5: lower-case hex, form encoding, Python's quote, JSON).
    @Test("the common encodings of a secret with / + = \" \\ and a space are scrubbed")
    func encodingsEncodersDisagreeOn() {
        let secret = #"Ab/Cd+Ef=Gh"ij\kl <m>&n%q"#
        let binding = CredentialBinding(name: "key2", placeholder: CredentialGateTests.key, host: CredentialGateTests.api,
                                        placement: .basic, secret: secret)
        let spellings = [
            #"Ab%2FCd%2BEf%3DGh%22ij%5Ckl%20%3Cm%3E%26n%25q"#,   // encodeURIComponent
            #"Ab%2fCd%2bEf%3dGh%22ij%5ckl%20%3cm%3e%26n%25q"#,   // the same, lower-case hex
            #"Ab%2FCd%2BEf%3DGh%22ij%5Ckl+%3Cm%3E%26n%25q"#,     // form encoding (quote_plus)
            #"Ab/Cd%2BEf%3DGh%22ij%5Ckl%20%3Cm%3E%26n%25q"#,     // Python's quote (keeps /)
            #"Ab/Cd%2bEf%3dGh%22ij%5ckl+%3cm%3e%26n%25q"#,
            #"Ab/Cd+Ef=Gh\"ij\\kl <m>&n%q"#,                     // JSON
            #"Ab\/Cd+Ef=Gh\"ij\\kl <m>&n%q"#,                    // JSON with \/ (PHP)
        ]
        for spelling in spellings {
            var scrubber = SecretScrubber([binding])
            let out = String(buffer: scrubber.scrub(whole: ByteBuffer(string: "{\"echo\": \"\(spelling)\"}")))
            #expect(!out.contains(spelling) && out.contains(CredentialGateTests.key), "\(spelling) → \(out)")
        }
    }

    @Test("every form of the secret is replaced, split across any chunk size", arguments: [1, 3, 7, 64, 4096])
    func everyForm(chunk: Int) {
        let secret = Self.binding.secret
        let echoed = "raw=\(secret) basic=\(Base64.encode(Array("user:\(secret)".utf8))) "
            + "b64=\(Base64.encode(Array(secret.utf8))) pct=\(PercentEncoding.encodeQueryValue(secret + "/x"))"
        let (out, reflected) = scrubAll(echoed, chunk: chunk)
        #expect(!out.contains(secret), "\(out)")
        #expect(!out.contains(String(Base64.encode(Array("user:\(secret)".utf8)).dropFirst(8).prefix(16))), "\(out)")
        #expect(out.contains(CredentialGateTests.key))
        #expect(reflected == ["openai"])
    }

    @Test func aHeaderValueIsScrubbedWhenItHoldsAFormOfTheSecretAndKeptOtherwise() {
        let secret = Self.binding.secret
        var scrubber = SecretScrubber([Self.binding])
        #expect(!scrubber.occurs(in: "text/plain; charset=utf-8"))
        #expect(scrubber.scrub(text: "text/plain; charset=utf-8") == "text/plain; charset=utf-8")
        #expect(scrubber.occurs(in: "token=\(secret)"))
        #expect(scrubber.scrub(text: "token=\(secret)") == "token=\(CredentialGateTests.key)")
        let b64 = Base64.encode(Array(secret.utf8))
        #expect(scrubber.occurs(in: "x \(b64)") && !scrubber.scrub(text: "x \(b64)").contains(String(b64.prefix(12))))
        #expect(scrubber.reflected == ["openai"])
    }

    @Test func aScrubberOrAPlanPrintsNamesNeverSecrets() {
        let plan = ScrubPlan([Self.binding])
        let scrubber = SecretScrubber([Self.binding])
        var dumped = ""
        dump(plan, to: &dumped)
        dump(scrubber, to: &dumped)
        for text in ["\(plan)", String(reflecting: plan), "\(scrubber)", String(reflecting: scrubber), dumped] {
            #expect(text.contains("openai"), "\(text)")
            #expect(!text.contains(Self.binding.secret) && !text.contains("\(Array(Self.binding.secret.utf8))"), "\(text)")
        }
    }

    /// A held response's body is scanned where it lies: kept as it is without a secret,
    /// every form replaced otherwise (the same forms the streaming scrubber finds).
    @Test func aWholeBodyIsScrubbedAtOnceOrKeptAsItIs() {
        let secret = Self.binding.secret
        let echoed = "raw=\(secret) basic=\(Base64.encode(Array("user:\(secret)".utf8))) "
            + "b64url=\(Base64.encode(Array(("?" + secret).utf8)).replacingOccurrences(of: "/", with: "_")) "
            + "pct=\(PercentEncoding.encodeQueryValue(secret + "/x")) end"
        var scrubber = SecretScrubber([Self.binding])
        let out = String(buffer: scrubber.scrub(whole: ByteBuffer(string: echoed)))
        let (streamed, _) = scrubAll(echoed, chunk: 5)
        #expect(!out.contains(secret) && out.hasSuffix(" end") && out == streamed, "\(out)")
        #expect(out.split(separator: CredentialGateTests.key, omittingEmptySubsequences: false).count == 5, "\(out)")
        #expect(scrubber.reflected == ["openai"])

        var clean = SecretScrubber([Self.binding])
        let text = String(repeating: "hello, world; ", count: 500)
        #expect(String(buffer: clean.scrub(whole: ByteBuffer(string: text))) == text && clean.reflected.isEmpty)
        #expect(clean.scrub(whole: ByteBuffer()).readableBytes == 0)
    }

    /// Streamed in chunks of 60 to 260 bytes, a body gives the same bytes as when it is
    /// scrubbed whole (a held response), wherever the forms fall against the chunk
    /// boundaries.
    @Test func chunksGiveTheSameBytesAsTheWholeBody() {
        let secret = Self.binding.secret
        let forms = [secret, Base64.encode(Array(secret.utf8)), Base64.encode(Array("u:\(secret)".utf8)),
                     PercentEncoding.encodeQueryValue(secret + "/"), String(Base64.encode(Array("ab\(secret)".utf8)).dropFirst(2))]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for round in 0..<60 {
            var body = ""
            for _ in 0..<25 { body += String(repeating: "x", count: next(90)) + forms[next(forms.count)] }
            let bytes = Array(body.utf8)
            var whole = SecretScrubber([Self.binding])
            let expected = String(buffer: whole.scrub(whole: ByteBuffer(bytes: bytes)))
            var streaming = SecretScrubber([Self.binding])
            var out = "", i = 0
            while i < bytes.count {
                let n = 60 + next(200)
                out += String(buffer: streaming.scrub(ByteBuffer(bytes: bytes[i..<min(i + n, bytes.count)])))
                i += n
            }
            out += String(buffer: streaming.finish())
            #expect(out == expected && !out.contains(secret), "round \(round)")
            #expect(streaming.reflected == ["openai"])
        }
    }

    /// The values a placement injects are rendered once, with the plan: a new plan (a
    /// rotated secret) injects the new one, the old plan the old one.
    @Test func aPlanInjectsTheValuesOfItsOwnSecrets() {
        let first = CredentialGateTests.bindings, rotated = first.map {
            CredentialBinding(name: $0.name, placeholder: $0.placeholder, host: $0.host, port: $0.port, methods: $0.methods,
                              pathPrefix: $0.pathPrefix, placement: $0.placement, require: $0.require, secret: $0.secret + "-2")
        }
        for (plan, suffix) in [(ScrubPlan(first), ""), (ScrubPlan(rotated), "-2")] {
            let host = try! HostParser.parseTarget("api.test")
            let header = CredentialGate.check(headers: HTTPHeaders([("Authorization", "Bearer \(CredentialGateTests.key)")]),
                                              path: "/v1/chat", query: nil, method: "POST", host: host, port: 443,
                                              terminated: true, plan: plan)
            guard case .inject(let values, _, _) = header else { Issue.record("not injected"); return }
            #expect(values.value(at: 0) == "Bearer sk-REAL" + suffix)
            let query = CredentialGate.check(headers: HTTPHeaders(), path: "/geo", query: "key=\(CredentialGateTests.queryKey)",
                                             method: "GET", host: try! HostParser.parseTarget("eu.maps.test"), port: 443,
                                             terminated: true, plan: plan)
            guard case .inject(_, let q, _) = query else { Issue.record("not injected"); return }
            #expect(q == "key=mk%20REAL%2F1" + suffix)
        }
    }

    @Test func aBodyWithoutTheSecretIsUnchanged() {
        let text = String(repeating: "hello, world; ", count: 500)
        let (out, reflected) = scrubAll(text, chunk: 100)
        #expect(out == text && reflected.isEmpty)
    }
}
