import Foundation

/// Runs pgbench with scripts holding the store's own SQL, against the same server and table.
struct PGBench {
    let url: String
    let select: String
    let update: String
    let insert: String
    let touch: Double
    let lifetime: Double
    let dataHex: String
    /// The fingerprint of `dataHex`'s data, which the UPDATE compares with the row's (every
    /// pgbench row holds that data, so every UPDATE writes, as the store's do).
    let fingerprintHex: String
    let keyCount: Int
    let serverCPU: ServerCPU?
    let directory: URL

    /// Writes the scripts into a temporary directory of their own; `name` tells apart the
    /// directories of several tables in one process.
    init(url: String, name: String, statements: (select: String, update: String, insert: String, table: String),
         touch: Double, lifetime: Double, dataHex: String, fingerprintHex: String, keyCount: Int, serverCPU: ServerCPU?) throws {
        self.url = url
        self.serverCPU = serverCPU
        self.select = statements.select
        self.update = statements.update
        self.insert = statements.insert
        self.touch = touch
        self.lifetime = lifetime
        self.dataHex = dataHex
        self.fingerprintHex = fingerprintHex
        self.keyCount = keyCount
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgstore-bench-\(getpid())-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try write("get.sql", """
            \\set key random(1, \(keyCount))
            \(bind(select, ["key", "touch"]));
            """)
        try write("getsave.sql", """
            \\set key random(1, \(keyCount))
            \(bind(select, ["key", "touch"]));
            \(bind(update, ["key", "data", "fingerprint"]));
            """)
        try write("new.sql", """
            \\set key random(1000000000, 9000000000000000)
            \(bind(insert, ["key", "data", "life"]));
            """)
    }

    /// `$1`, `$2`, ... become pgbench variables, which `-M prepared` sends as parameters again.
    private func bind(_ sql: String, _ names: [String]) -> String {
        var text = sql
        for (index, name) in names.enumerated().reversed() {
            text = text.replacingOccurrences(of: "$\(index + 1)", with: ":\(name)")
        }
        return text.replacingOccurrences(of: "\n", with: " ")
    }

    private func write(_ name: String, _ text: String) throws {
        // pgbench spins on a script whose last line has no newline.
        try (text + "\n").write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func removeScripts() {
        try? FileManager.default.removeItem(at: directory)
    }

    func scripts(for mode: Options.Mode) -> [String] {
        let path = { (name: String) in self.directory.appendingPathComponent(name).path }
        switch mode {
        case .get, .raw, .noactor, .nio, .nioraw: return [path("get.sql")]
        case .getsave: return [path("getsave.sql")]
        case .new: return [path("new.sql")]
        case .mixed: return [path("get.sql") + "@90", path("getsave.sql") + "@9", path("new.sql") + "@1"]
        }
    }

    /// The best tps over `clients`, and the client count that reached it.
    func best(mode: Options.Mode, clients: [Int], duration: Double) -> (tps: Double, clients: Int) {
        var best = (tps: 0.0, clients: 0)
        for count in clients {
            let (tps, cpu) = run(mode: mode, clients: count, duration: duration)
            log("pgbench mode=\(mode) clients=\(count) tps=\(Int(tps)) cpu: \(cpu)")
            if tps > best.tps { best = (tps, count) }
        }
        return best
    }

    /// One pgbench run: its tps, and the CPU per transaction of pgbench and of the server.
    func run(mode: Options.Mode, clients: Int, duration: Double) -> (tps: Double, cpu: CPUSplit) {
        let clientBefore = ProcessStats.childrenCPUSeconds()
        let serverBefore = serverCPU?.seconds()
        let tps = runPGBench(mode: mode, clients: clients, duration: duration)
        let cpu = CPUSplit(
            operations: tps * Double(Self.seconds(duration)), clientSeconds: ProcessStats.childrenCPUSeconds() - clientBefore,
            serverSeconds: serverCPU?.seconds(since: serverBefore))
        return (tps, cpu)
    }

    /// pgbench's `-T`: whole seconds, at least one.
    private static func seconds(_ duration: Double) -> Int { max(1, Int(duration.rounded())) }

    private func runPGBench(mode: Options.Mode, clients: Int, duration: Double) -> Double {
        var arguments = ["-n", "-M", "prepared", "-c", "\(clients)", "-j", "\(min(clients, 2))",
                         "-T", "\(Self.seconds(duration))",
                         "-D", "touch=\(touch)", "-D", "life=\(lifetime)", "-D", "data=\\x\(dataHex)",
                         "-D", "fingerprint=\\x\(fingerprintHex)"]
        for script in scripts(for: mode) { arguments += ["-f", script] }
        arguments.append(url)
        guard let text = runCapturingOutput(["pgbench"] + arguments) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("tps = ") {
            let number = line.dropFirst(6).prefix(while: { $0.isNumber || $0 == "." })
            return Double(number) ?? 0
        }
        log("pgbench printed no tps:\n\(text)")
        return 0
    }
}

/// Runs a program found on PATH and returns its standard output (stderr passes through).
/// posix_spawn + waitpid rather than Foundation's Process, whose waitUntilExit can hang when
/// called from a task.
func runCapturingOutput(_ argv: [String]) -> String? {
    var pipe: [Int32] = [0, 0]
    guard Glibc.pipe(&pipe) == 0 else { return nil }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    posix_spawn_file_actions_addclose(&actions, pipe[0])
    let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    defer { for argument in cArguments { free(argument) } }
    // The spawning thread may block signals (Swift's runtime threads do); pgbench -T relies on
    // SIGALRM, so the child starts with an empty mask and default handlers.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    sigaddset(&defaults, SIGALRM)
    sigaddset(&defaults, SIGPIPE)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, cArguments, environ)
    close(pipe[1])
    guard spawned == 0 else {
        close(pipe[0])
        log("could not run \(argv[0]): error \(spawned)")
        return nil
    }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(pipe[0], &buffer, buffer.count)
        if count <= 0 { break }
        output += buffer[0..<count]
    }
    close(pipe[0])
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return String(decoding: output, as: UTF8.self)
}
