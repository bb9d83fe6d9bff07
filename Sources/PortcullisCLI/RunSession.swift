import Foundation
#if canImport(Glibc)
import Glibc
#endif
import OpenAPIRuntime
import PortcullisAPI
import PortcullisRunner

/// One `portcullis run`, start to finish: sweep what crashed runs left, get or create the
/// sandbox, make the namespace and rules, register the address, run the command, undo it all.
struct RunSession {
    enum SandboxRequest {
        case existing(String)
        case create(name: String?, allow: [String], deny: [String], profiles: [String], keep: Bool)
    }

    let client: Client
    let host: HostExecutor
    let store: RunRecordStore
    let transparent: ListenerAddress
    let dns: ListenerAddress
    let user: RunUser
    let pool: IPv4Block?
    let command: [String]
    let environment: [String: String]
    /// `--credential NAME[:ENV]`: attached before the command runs; every credential attached
    /// to the sandbox is in the command's environment (under ENV, or its default variable).
    var credentials: [(credential: String, variable: String)] = []

    /// Runs the command; returns the runner's exit status (the command's, or 128+N).
    func run(_ request: SandboxRequest) async throws -> Int32 {
        let signals = SignalForwarder()
        let lockFD: Int32
        do { lockFD = try store.lock() } catch let e as RunSetupError { return fail(e) }
        var locked = true
        defer { if locked { store.unlock(lockFD) } }

        await sweep()
        if let sockets = ListenerCheck.hostSockets() {
            for warning in ListenerCheck.warnings(transparent: transparent, dns: dns, sockets: sockets) { printError("warning: " + warning) }
        }

        // The sandbox.
        let sandboxID: String
        var created = false
        var keep = false
        switch request {
        case .existing(let id):
            sandboxID = try await client.getSandbox(path: .init(id: id)).ok.body.json.id
        case .create(let name, let allow, let deny, let profiles, let keepIt):
            var network: Components.Schemas.SandboxNetwork?
            if !allow.isEmpty || !deny.isEmpty { network = .init(allow: allow.isEmpty ? nil : allow, deny: deny.isEmpty ? nil : deny) }
            let body = Components.Schemas.SandboxCreate(name: name, network: network, profiles: profiles.isEmpty ? nil : profiles)
            sandboxID = try await client.createSandbox(body: .json(body)).created.body.json.id
            created = true
            keep = keepIt
        }
        guard let names = RunNames(sandboxID: sandboxID) else {
            await discard(sandboxID, created: created, keep: keep)
            return fail(RunSetupError("the API gave an unexpected sandbox id \(sandboxID)"))
        }
        // The sandbox's CA bundle: the command trusts the certificates of connections the gateway
        // terminates; and the placeholders of its credentials.
        let trust: TrustBundle
        let placeholders: [String: String]
        do {
            trust = TrustBundle(text: try await SandboxTrust.bundle(client, sandboxID: sandboxID), group: user.gid)
            placeholders = try await credentialEnvironment(sandboxID)
        } catch {
            await discard(sandboxID, created: created, keep: keep)
            throw error
        }

        // Host state: one run per sandbox at a time; a free /30.
        let record: RunRecord
        let plan: RunPlan
        do {
            if let live = store.all().first(where: { $0.names == names && RunnerLiveness.isAlive($0) }) {
                throw RunSetupError("sandbox \(sandboxID) is already running in namespace \(names.namespace) (runner pid \(live.runnerPID))")
            }
            let observed = try host.observe()
            guard let chosenPool = pool ?? AddressPool.defaultPool(avoiding: observed.foreign) else {
                throw RunSetupError("every /16 of 100.64.0.0/10 is in use on this host: give --pool CIDR")
            }
            guard let lease = AddressPool.allocate(in: chosenPool, avoiding: observed.used) else {
                throw RunSetupError("the address pool \(chosenPool) has no free /30 left")
            }
            plan = RunPlan(names: names, lease: lease, transparent: transparent, dns: dns, trust: trust)
            record = RunRecord(names: names, sandboxID: sandboxID, lease: lease, runnerPID: getpid(),
                               runnerStart: RunnerLiveness.startTime(of: getpid()), createdSandbox: created, keep: keep)
            try store.write(record)
            do {
                for step in plan.setup { try host.perform(step) }
            } catch {
                _ = host.performAll(plan.teardown)
                store.remove(names)
                throw error
            }
        } catch let e as RunSetupError {
            await discard(sandboxID, created: created, keep: keep)
            return fail(e)
        }
        store.unlock(lockFD)
        locked = false

        // Identity, then the command; everything is undone whatever happens in between.
        var status: Int32
        do {
            try await register(plan.lease.sandboxText, on: sandboxID)
            if signals.pending != 0 {
                status = 128 + signals.pending
            } else {
                let launch = CommandLaunch(ip: host.path(.ip), setpriv: host.path(.setpriv), namespace: names.namespace,
                                           user: user, command: command,
                                           environment: environment.merging(CABundle.environment(path: names.trustBundlePath)) { _, ours in ours }
                                               .merging(placeholders) { _, ours in ours })
                status = try await signals.run(launch).runnerCode
            }
        } catch {
            await finish(record, plan: plan)
            if let e = error as? RunSetupError { return fail(e) }
            throw error
        }
        await finish(record, plan: plan)
        return status
    }

    /// Attaches `--credential`s, then reads every credential attached to the sandbox: its
    /// placeholder by variable (the one given, else the default). Two credentials on one
    /// variable: the one named by `--credential` wins, else the first attached.
    func credentialEnvironment(_ sandboxID: String) async throws -> [String: String] {
        for c in credentials { _ = try await client.attachCredential(path: .init(id: sandboxID, name: c.credential)).ok }
        var out: [String: String] = [:]
        for a in try await client.listSandboxCredentials(path: .init(id: sandboxID)).ok.body.json.items.reversed() {
            let variable = credentials.first(where: { $0.credential == a.name })?.variable ?? CredentialVariables.defaultName(for: a.name)
            guard CredentialVariables.refusal(variable) == nil else {
                printError("credential \(a.name): its default variable \(variable) is not usable; give --credential \(a.name):ENV")
                continue
            }
            if credentials.contains(where: { $0.variable == variable && $0.credential != a.name }) { continue }
            out[variable] = a.placeholder
        }
        return out
    }

    /// Undoes one run: host state, registration, the sandbox made by `--new`, the record.
    func finish(_ record: RunRecord, plan: RunPlan) async {
        for problem in host.performAll(plan.teardown) { printError("cleanup: \(problem)") }
        await deregister(record.address, from: record.sandboxID)
        await discard(record.sandboxID, created: record.createdSandbox, keep: record.keep)
        store.remove(record.names)
    }

    /// Removes what dead runners left: their host state and registrations (and the sandboxes
    /// their `--new` made), and runner-made namespaces, links and tables without a record.
    func sweep() async {
        guard let observed = try? host.observe() else { return }
        let sweep = StaleSweep.plan(records: store.all(), isAlive: RunnerLiveness.isAlive, host: observed)
        for record in sweep.staleRecords {
            printError("removing what the run of \(record.sandboxID) (runner pid \(record.runnerPID), no longer running) left in \(record.names.namespace)")
            for problem in host.performAll(RunPlan.teardown(record.names)) { printError("cleanup: \(problem)") }
            await deregister(record.address, from: record.sandboxID)
            await discard(record.sandboxID, created: record.createdSandbox, keep: record.keep)
            store.remove(record.names)
        }
        for names in sweep.orphans {
            printError("removing \(names.namespace) (namespace, link or nftables table of a run with no record)")
            for problem in host.performAll(RunPlan.teardown(names)) { printError("cleanup: \(problem)") }
        }
    }

    /// Adds `address` to the sandbox's `source_addresses`. An address still registered to a
    /// sandbox by a run that did not finish is reclaimed: this host hands it out only when
    /// no link of this host holds it, so whoever registered it is gone.
    func register(_ address: String, on sandboxID: String) async throws {
        for _ in 0..<3 {
            let current = try await client.getSandbox(path: .init(id: sandboxID)).ok.body.json.source_addresses
            let wanted = current.filter { $0 != address } + [address]
            do {
                _ = try await client.updateSandbox(path: .init(id: sandboxID), body: .json(.init(source_addresses: wanted))).ok
                return
            } catch let error as ClientError {
                guard let failure = error.underlyingError as? APIFailure, failure.status == 409,
                      let owner = RunSession.owner(inConflict: failure.message), owner != sandboxID else { throw error }
                let held = try await client.getSandbox(path: .init(id: owner)).ok.body.json.source_addresses
                _ = try await client.updateSandbox(path: .init(id: owner), body: .json(.init(source_addresses: held.filter { $0 != address }))).ok
                printError("reclaimed \(address) from sandbox \(owner) (left registered by a run that did not finish)")
            }
        }
        throw RunSetupError("could not register \(address) on sandbox \(sandboxID)")
    }

    /// The sandbox id in the API's conflict message (`address … already belongs to sandbox sbx_…`).
    static func owner(inConflict message: String) -> String? {
        guard let range = message.range(of: "sandbox sbx_") else { return nil }
        let id = message[message.index(range.lowerBound, offsetBy: 8)...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return id.isEmpty ? nil : String(id)
    }

    /// Removes `address` from the sandbox's `source_addresses` (a sandbox that is gone is fine).
    func deregister(_ address: String, from sandboxID: String) async {
        do {
            let current = try await client.getSandbox(path: .init(id: sandboxID)).ok.body.json.source_addresses
            guard current.contains(address) else { return }
            _ = try await client.updateSandbox(path: .init(id: sandboxID), body: .json(.init(source_addresses: current.filter { $0 != address }))).ok
        } catch {
            if let failure = (error as? ClientError)?.underlyingError as? APIFailure, failure.status == 404 { return }
            printError("could not remove \(address) from sandbox \(sandboxID)'s source addresses: \(RunSession.describe(error))")
        }
    }

    /// Deletes a sandbox that `--new` made, unless `--keep`.
    func discard(_ sandboxID: String, created: Bool, keep: Bool) async {
        guard created && !keep else { return }
        do { _ = try await client.deleteSandbox(path: .init(id: sandboxID)).noContent } catch {
            if let failure = (error as? ClientError)?.underlyingError as? APIFailure, failure.status == 404 { return }
            printError("could not delete sandbox \(sandboxID): \(RunSession.describe(error))")
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? ClientError { return "\(e.underlyingError)" }
        return "\(error)"
    }

    /// Prints a setup failure; exit 1.
    func fail(_ error: RunSetupError) -> Int32 {
        printError(error.message)
        return CLIExit.rejected.rawValue
    }
}
