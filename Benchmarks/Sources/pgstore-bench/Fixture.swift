import Foundation
import PGClient
@_spi(Benchmarks) import PGStore

/// One table of sessions under load: the store that reads it, cookies for its sessions, and
/// pgbench scripts running the store's SQL on the same table.
struct Fixture {
    let store: SessionStore
    let cookies: [String]
    let pgbench: PGBench?
    /// The store's statements (and the table's name as they spell it).
    let statements: (select: String, update: String, insert: String, table: String)
    /// The rows in the table when the load starts: sessions, pgbench's rows and filler.
    let rows: Int
    /// The server's CPU, when it runs on this machine.
    let serverCPU: ServerCPU?
    /// Whether the load's tasks prefer the pool's I/O thread as their executor.
    let onPoolThread: Bool

    /// Creates `table` afresh with `options.sessions` sessions made through the store, as many
    /// rows of the same size for pgbench (keys '1', '2', ...), and `filler` more rows of the same
    /// size under random keys; vacuums, analyzes and checkpoints it so the load starts settled.
    static func prepare(
        table: String, filler: Int, options: Options, admin: ConnectionPool, serverCPU: ServerCPU?
    ) async throws -> Fixture {
        var poolConfiguration = ConnectionPool.Configuration()
        poolConfiguration.maximumConnections = options.pool
        poolConfiguration.minimumConnections = options.pool
        poolConfiguration.maximumWaiters = 1_000_000
        poolConfiguration.connectionWaitTimeout = .seconds(60)
        if let pack = options.pack { poolConfiguration.preferredPipelineDepth = pack }
        if let writeCost = options.writeCost { poolConfiguration.writeCost = writeCost }
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        configuration.idsBeginWithCreationHour = !options.randomIDs
        _ = try await admin.query("DROP TABLE IF EXISTS \"\(table)\"")
        let store = try await SessionStore(
            url: options.url, keys: [try makeKey(7, encrypted: options.encrypted)],
            configuration: configuration, poolConfiguration: poolConfiguration)

        log("\(table): creating \(options.sessions) sessions (value size \(options.valueSize) bytes)")
        let cookies = try await createSessions(store: store, count: options.sessions, valueSize: options.valueSize)
        let statements = store.statementsForBenchmarks
        let sample = try await admin.query("SELECT data FROM \(statements.table) LIMIT 1")
        let sampleData = try sample.first?.decode([UInt8].self, column: 0) ?? []
        log("\(table): encoded session data: \(sampleData.count) bytes")

        var pgbench: PGBench?
        if options.pgbench || options.modes.contains(.raw) || options.modes.contains(.nioraw) {  // the raw modes read these rows too
            _ = try await admin.query("""
                INSERT INTO \(statements.table) (key, data, expires_on)
                SELECT g::text, $1, now() + interval '30 days' FROM generate_series(1, $2::int8) g
                """, [.bytea(sampleData), .int8(Int64(options.sessions))])
        }
        if options.pgbench {
            pgbench = try PGBench(
                url: options.url, name: table, statements: statements,
                touch: await store.touchThresholdForBenchmarks, lifetime: Double(await store.maxAge),
                dataHex: hex(sampleData), fingerprintHex: hex(SessionStore.fingerprintForBenchmarks(of: sampleData)),
                keyCount: options.sessions,
                serverCPU: serverCPU)
        }
        if filler > 0 {
            // Keyed as the store keys rows: base64url of 32 bytes, of which, unless --random-ids,
            // the first 3 are an hour (UTC, since 1970). The filler plays sessions made earlier,
            // over the 30 days (720 hours) before the load's sessions.
            let idBytes = options.randomIDs
                ? "sha256(('filler' || g)::bytea)"
                : """
                  substring(int4send(floor(extract(epoch FROM now()) / 3600)::int4 - 1 - (g % 720)::int4) FROM 2 FOR 3) \
                  || substring(sha256(('filler' || g)::bytea) FROM 1 FOR 29)
                  """
            log("\(table): adding \(filler) filler rows (\(options.randomIDs ? "random IDs" : "IDs of the 30 days before"))")
            _ = try await admin.query("""
                INSERT INTO \(statements.table) (key, data, expires_on)
                SELECT translate(rtrim(encode(\(idBytes), 'base64'), '='), '+/', '-_'), $1, now() + interval '30 days'
                FROM generate_series(1, $2::int8) g
                """, [.bytea(sampleData), .int8(Int64(filler))])
        }
        _ = try await admin.query("VACUUM ANALYZE \(statements.table)")
        // Write the setup's dirty pages out now, not while the run is measured: after a million
        // filler rows the checkpointer otherwise competes for the cores during the run.
        do {
            _ = try await admin.query("CHECKPOINT")
        } catch {
            log("CHECKPOINT failed (\(error)); measuring anyway")
        }
        let rows = try await admin.query("SELECT count(*) FROM \(statements.table)").first?.decode(Int.self, column: 0) ?? 0
        log("\(table): \(rows) rows")
        return Fixture(
            store: store, cookies: cookies, pgbench: pgbench, statements: statements, rows: rows, serverCPU: serverCPU,
            onPoolThread: options.onPoolThread)
    }

    /// `count` sessions saved through the store; their cookies (`sid=...`), in no useful order.
    private static func createSessions(store: SessionStore, count: Int, valueSize: Int) async throws -> [String] {
        let filler = String(repeating: "v", count: max(0, valueSize - 60))
        return try await withThrowingTaskGroup(of: [String].self) { group in
            let workers = 32
            for worker in 0..<workers {
                group.addTask {
                    var made: [String] = []
                    for index in stride(from: worker, to: count, by: workers) {
                        var session = await store.new(name: "sid")
                        session.values = ["user": .int(index), "name": .string("user \(index)"), "role": "member", "n": 0, "pad": .string(filler)]
                        let field = try await store.save(&session)
                        made.append(String(field.value.split(separator: ";", maxSplits: 1)[0]))
                    }
                    return made
                }
            }
            var all: [String] = []
            all.reserveCapacity(count)
            for try await part in group { all += part }
            return all
        }
    }

    /// A short unmeasured run before the measured ones of `mode` at `tasks`, so caches and
    /// connections are warm.
    func warmUp(_ mode: Options.Mode, tasks: Int, duration: Double) async throws {
        _ = try await LoadRun.run(
            store: store, cookies: cookies, mode: mode, tasks: tasks, seconds: min(1, duration / 3), onPoolThread: onPoolThread)
    }

    /// A measured run of the store on this table, and its CPU per operation on each side.
    func measure(_ mode: Options.Mode, tasks: Int, seconds: Double) async throws -> (Measurement, CPUSplit) {
        let serverBefore = serverCPU?.seconds()
        let measured = try await LoadRun.run(
            store: store, cookies: cookies, mode: mode, tasks: tasks, seconds: seconds, onPoolThread: onPoolThread)
        let cpu = CPUSplit(
            operations: Double(measured.operations), clientSeconds: measured.cpuSeconds,
            serverSeconds: serverCPU?.seconds(since: serverBefore))
        return (measured, cpu)
    }

    /// One round of a paired comparison on this table: pgbench at `pgbenchClients` (when it is
    /// set up), then the store, each for `seconds`; logs the pair as
    /// `round N: mode=M tasks=T ops_per_s=O pgbench_tps=P ratio=R rows=N cpu: store SPLIT; pgbench SPLIT`,
    /// the line scripts/bench reads the CPU split and table size from.
    func pairedRound(
        _ round: Int, mode: Options.Mode, tasks: Int, pgbenchClients: Int, seconds: Double
    ) async throws -> (measurement: Measurement, pgbenchTPS: Double) {
        var tps = 0.0
        var pgbenchCPU: CPUSplit?
        if let pgbench {
            (tps, pgbenchCPU) = pgbench.run(mode: mode, clients: pgbenchClients, duration: seconds)
        }
        let (measured, cpu) = try await measure(mode, tasks: tasks, seconds: seconds)
        // A typed value: inline, `tps > 0 ? x : 0` passes the `0` as an Int `CVarArg`, which
        // `%.2f` misreads, shifting every later field (rows=0 was logged without pgbench).
        let ratio: Double = tps > 0 ? measured.opsPerSecond / tps : 0
        log(String(format: "round %d: mode=%@ tasks=%d ops_per_s=%.0f pgbench_tps=%.0f ratio=%.2f rows=%d",
                   round, mode.rawValue, tasks, measured.opsPerSecond, tps, ratio, rows)
            + " cpu: store \(cpu); pgbench \(pgbenchCPU.map(String.init(describing:)) ?? "not run")")
        return (measured, tps)
    }

    /// Closes the store, drops the table and removes pgbench's scripts.
    func tearDown(admin: ConnectionPool) async throws {
        pgbench?.removeScripts()
        await store.close()
        _ = try await admin.query("DROP TABLE IF EXISTS \(statements.table)")
    }
}

func makeKey(_ byte: UInt8, encrypted: Bool) throws -> SessionKey {
    try SessionKey(hashKey: [UInt8](repeating: byte, count: 32), encryptionKey: encrypted ? [UInt8](repeating: byte &+ 1, count: 32) : nil)
}

/// Bytes in hex, as a pgbench variable holding a bytea takes them after its `\x`.
private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
