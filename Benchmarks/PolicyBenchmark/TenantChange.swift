import PortcullisPolicy

/// A tenant-wide change at 1,000 / 10,000 / 100,000 sandboxes (issue 19): what it costs to
/// bring every sandbox of the tenant to the new policy, compiling each sandbox whole (as
/// before shared layers) vs compiling the tenant's layer once and re-pointing each
/// sandbox's chain at it (what `ControlPlane` does now). Each sandbox has 3 rules of its
/// own and one built-in profile; the tenant has 50 rules.
func tenantChangeCurve() {
    let clock = ContinuousClock()
    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
    var rng = SplitMix64(state: 19)
    let tenantRules = makeRules(50, rng: &rng)
    let profiles = BuiltinProfiles.all
    print("")
    print("tenant-wide change, every sandbox of the tenant brought to the new policy:")
    let header = ["sandboxes", "whole recompile ms", "shared layers ms", "per sandbox us (shared)", "speed-up"]
    var rows: [[String]] = []
    for count in [1_000, 10_000, 100_000] {
        let locals = (0..<count).map { i in
            (0..<3).map { j in Rule(id: "rul_\(i)_\(j)", action: .allow, host: .exact(DomainName(canonical: "s\(i)-\(j).example.com")), port: nil) }
        }
        // Before: every sandbox compiled from all its rules.
        var start = clock.now
        var whole: [CompiledPolicy] = []
        whole.reserveCapacity(count)
        for i in 0..<count {
            let layers = PolicyLayers(tenantDefaultMode: .allowlist, localRules: locals[i], sandboxProfiles: [profiles[i % profiles.count]],
                                      tenantRules: tenantRules)
            whole.append(CompiledPolicy(layers: layers, version: 2))
        }
        let wholeTime = clock.now - start
        // After: local and profile layers are already compiled (they did not change); the
        // tenant's layer is compiled once and every chain points at it.
        let localLayers = locals.map { RuleLayer(rules: $0) }
        let profileLayers = profiles.map { RuleLayer(rules: $0.rules) }
        start = clock.now
        let tenantLayer = RuleLayer(rules: tenantRules.map { var r = $0; r.source = .tenant; return r })
        var shared: [CompiledPolicy] = []
        shared.reserveCapacity(count)
        for i in 0..<count {
            shared.append(CompiledPolicy(mode: .allowlist, layers: [localLayers[i], profileLayers[i % profiles.count], tenantLayer], version: 2))
        }
        let sharedTime = clock.now - start
        // Both give the same decisions.
        for i in stride(from: 0, to: count, by: max(1, count / 50)) {
            for host in ["s\(i)-1.example.com", tenantRules[i % 50].host.description, "pypi.org", "nowhere.test"] {
                guard let parsed = try? HostParser.parseTarget(host), case .name = parsed else { continue }
                let t = Target(host: parsed, port: 443)
                guard whole[i].decide(t) == shared[i].decide(t) else { fatalError("shared layers disagree on \(host)") }
            }
        }
        rows.append(["\(count)", String(format: "%.1f", ms(wholeTime)), String(format: "%.1f", ms(sharedTime)),
                     String(format: "%.2f", ms(sharedTime) * 1000 / Double(count)),
                     String(format: "%.0fx", ms(wholeTime) / max(ms(sharedTime), 0.001))])
    }
    var widths = header.map(\.count)
    for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
    print(line(header, widths))
    for row in rows { print(line(row, widths)) }
}
