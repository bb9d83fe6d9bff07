import Foundation
import PortcullisRunner
import Testing

@Suite("Runner lifecycle: exit statuses, launch, host state, stale runs")
struct LifecycleTests {
    static let statuses: [(Int32, Int32)] = [
        (0, 0), (0x0100, 1), (0x7f00, 127), (0xff00, 255), (9, 137), (15, 143), (2, 130), (0x80 | 11, 139),
    ]

    @Test("wait statuses map to the command's code, or 128+N for signal N", arguments: statuses)
    func exitStatus(_ raw: Int32, _ expected: Int32) {
        #expect(ExitStatus(waitStatus: raw).runnerCode == expected)
    }

    @Test("the command runs in the namespace as the user with no capabilities, dying with the runner")
    func launch() {
        let user = RunUser(name: "alice", uid: 1000, gid: 1000, home: "/home/alice")
        let launch = CommandLaunch(ip: "/usr/sbin/ip", setpriv: "/usr/bin/setpriv", namespace: "pc-abc", user: user,
                                   command: ["curl", "https://allowed.test/"],
                                   environment: ["PATH": "/usr/bin", "PORTCULLIS_TOKEN": "pcl_secret", "HOME": "/root", "TERM": "xterm"])
        #expect(launch.argv == ["/usr/sbin/ip", "netns", "exec", "pc-abc", "/usr/bin/setpriv", "--reuid=1000", "--regid=1000", "--init-groups",
                                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--pdeathsig=KILL", "--", "curl", "https://allowed.test/"])
        #expect(launch.environment.contains("PORTCULLIS_NETNS=pc-abc"))
        #expect(launch.environment.contains("HOME=/home/alice"))
        #expect(launch.environment.contains("TERM=xterm"))
        #expect(!launch.environment.contains { $0.hasPrefix("PORTCULLIS_TOKEN=") }, "the API key stays with the runner")
    }

    @Test("the user is --user, else $SUDO_USER, else the invoking uid")
    func userChoice() {
        #expect(RunUser.choose(flag: "bob", environment: ["SUDO_USER": "alice"], invokingUID: 0) == "bob")
        #expect(RunUser.choose(flag: nil, environment: ["SUDO_USER": "alice"], invokingUID: 0) == "alice")
        #expect(RunUser.choose(flag: nil, environment: ["SUDO_USER": ""], invokingUID: 0) == "0")
        #expect(RunUser.choose(flag: nil, environment: [:], invokingUID: 1000) == "1000")
        #expect(throws: RunInputError.self) { try RunUser.lookup("no-such-user-portcullis-test") }
        #expect((try? RunUser.lookup("0"))?.name == "root")
    }

    static let addrJSON = """
        [{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},
         {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"100.121.3.4","prefixlen":24}]},
         {"ifindex":7,"ifname":"pc-abc-h","addr_info":[{"family":"inet","local":"100.120.0.1","prefixlen":30}]}]
        """
    static let routeJSON = """
        [{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},{"dst":"100.122.0.0/16","dev":"tun0"},{"dst":"100.120.0.0/30","dev":"pc-abc-h"},
         {"type":"local","dst":"127.0.0.1","dev":"lo","table":"local"}]
        """

    @Test("host addresses and routes are read from ip -j; the runner's own links do not move the default pool")
    func hostParsing() {
        var host = HostNetwork()
        host.parseAddresses(Self.addrJSON)
        host.parseRoutes(Self.routeJSON)
        host.parseNamespaces("")
        host.parseTables(#"{"nftables":[{"metainfo":{"version":"1.0.6"}},{"table":{"family":"inet","name":"pc_abc","handle":3}},{"table":{"family":"ip","name":"nat","handle":4}}]}"#)
        #expect(host.links == ["lo", "eth0", "pc-abc-h"])
        #expect(host.namespaces.isEmpty)
        #expect(host.inetTables == ["pc_abc"])
        #expect(host.used.map(\.description).contains("100.120.0.0/30"))
        #expect(!host.foreign.map(\.description).contains("100.120.0.0/30"))
        #expect(AddressPool.defaultPool(avoiding: host.foreign)?.description == "100.120.0.0/16")
        #expect(AddressPool.allocate(in: IPv4Block("100.120.0.0/16")!, avoiding: host.used)?.subnet.description == "100.120.0.4/30")
        // eth0's 100.121/24 and tun0's 100.122/16 are someone else's.
        host.uses.append(.init(block: IPv4Block("100.120.9.0/24")!, link: "wg0"))
        #expect(AddressPool.defaultPool(avoiding: host.foreign)?.description == "100.123.0.0/16")
    }

    @Test("process start time is field 22 of /proc/PID/stat, even with ') ' in the name")
    func statParsing() {
        let stat = "4242 (evil) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615"
        #expect(RunnerLiveness.parseStartTime(stat) == 987654)
        #expect(RunnerLiveness.parseStartTime("garbage") == nil)
        #expect(RunnerLiveness.startTime(of: getpid()) != nil)
    }

    @Test("the sweep removes dead runs and unrecorded leftovers, never a live run's")
    func sweep() {
        let lease = Lease(subnet: IPv4Block("100.120.0.0/30")!)
        let live = RunRecord(names: RunNames(suffix: "live")!, sandboxID: "sbx_live", lease: lease, runnerPID: 1, runnerStart: nil, createdSandbox: false, keep: false)
        let dead = RunRecord(names: RunNames(suffix: "dead")!, sandboxID: "sbx_dead", lease: lease, runnerPID: 2, runnerStart: nil, createdSandbox: true, keep: false)
        var host = HostNetwork()
        host.namespaces = ["pc-live", "pc-dead", "pc-orphan", "other"]
        host.links = ["pc-live-h", "pc-lost-h", "eth0"]
        host.inetTables = ["pc_live", "pc_gone", "filter"]
        let sweep = StaleSweep.plan(records: [live, dead], isAlive: { $0.sandboxID == "sbx_live" }, host: host)
        #expect(sweep.staleRecords == [dead])
        #expect(sweep.orphans.map(\.suffix) == ["gone", "lost", "orphan"])
    }

    @Test("records survive a round trip through the store")
    func recordStore() throws {
        let dir = NSTemporaryDirectory() + "portcullis-runs-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = RunRecordStore(directory: dir)
        let fd = try store.lock()
        let record = RunRecord(names: RunNames(sandboxID: "sbx_abc")!, sandboxID: "sbx_abc", lease: Lease(subnet: IPv4Block("100.120.0.8/30")!),
                               runnerPID: getpid(), runnerStart: RunnerLiveness.startTime(of: getpid()), createdSandbox: false, keep: false)
        try store.write(record)
        #expect(store.all() == [record])
        #expect(RunnerLiveness.isAlive(record))
        var stale = record
        stale.runnerStart = (record.runnerStart ?? 0) + 1
        #expect(!RunnerLiveness.isAlive(stale), "a reused pid is not the runner")
        store.remove(record.names)
        #expect(store.all().isEmpty)
        store.unlock(fd)
    }

    @Test("tools run with their output collected, bounded in time")
    func spawnTool() throws {
        let out = try Spawn.run(["/bin/sh", "-c", "cat; echo err >&2; exit 3"], input: "hello\n")
        #expect(out.stdout == "hello\n")
        #expect(out.stderr == "err\n")
        #expect(out.status == .exited(3))
        #expect(throws: RunSetupError.self) { try Spawn.run(["/bin/sleep", "5"], timeout: 0.3) }
    }
}
