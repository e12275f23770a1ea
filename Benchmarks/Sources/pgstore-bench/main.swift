import Foundation
import HTTPTypes
import PGClient
@_spi(Benchmarks) import PGStore

// The load generator: sessions through the store under concurrent load, side by side with pgbench
// running the store's own SQL on the same server and table. One RESULT line per measured run.

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    log("\(error)")
    exit(2)
}

/// RESULT lines are the only thing on stdout.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func makeKey(_ byte: UInt8, encrypted: Bool) throws -> SessionKey {
    try SessionKey(hashKey: [UInt8](repeating: byte, count: 32), encryptionKey: encrypted ? [UInt8](repeating: byte &+ 1, count: 32) : nil)
}

if let iterations = options.codecLoop {
    do {
        try CodecLoop.run(iterations: iterations, encrypted: options.encrypted)
        exit(0)
    } catch {
        log("\(error)")
        exit(1)
    }
}

do {
    var poolConfiguration = ConnectionPool.Configuration()
    poolConfiguration.maximumConnections = options.pool
    poolConfiguration.minimumConnections = options.pool
    poolConfiguration.maximumWaiters = 1_000_000
    poolConfiguration.connectionWaitTimeout = .seconds(60)
    if let pack = options.pack { poolConfiguration.preferredPipelineDepth = pack }
    var configuration = SessionStore.Configuration()
    configuration.tableName = options.table
    let admin = try ConnectionPool(url: options.url)
    // The server's CPU beside the client's, when the server runs on this machine.
    let serverCPU = try await admin.query("SELECT pg_backend_pid()").first
        .flatMap { try ServerCPU(backendPID: $0.decode(Int32.self, column: 0)) }
    _ = try await admin.query("DROP TABLE IF EXISTS \"\(options.table)\"")
    let store = try await SessionStore(
        url: options.url, keys: [try makeKey(7, encrypted: options.encrypted)],
        configuration: configuration, poolConfiguration: poolConfiguration)

    // Pre-create the sessions the load reads.
    log("creating \(options.sessions) sessions (value size \(options.valueSize) bytes)")
    let filler = String(repeating: "v", count: max(0, options.valueSize - 60))
    let cookies = try await withThrowingTaskGroup(of: [String].self) { group in
        let workers = 32
        for worker in 0..<workers {
            group.addTask {
                var made: [String] = []
                for index in stride(from: worker, to: options.sessions, by: workers) {
                    var session = await store.new(name: "sid")
                    session.values = ["user": .int(index), "name": .string("user \(index)"), "role": "member", "n": 0, "pad": .string(filler)]
                    let field = try await store.save(&session)
                    made.append(String(field.value.split(separator: ";", maxSplits: 1)[0]))
                }
                return made
            }
        }
        var all: [String] = []
        all.reserveCapacity(options.sessions)
        for try await part in group { all += part }
        return all
    }
    let sample = try await admin.query("SELECT data FROM \"\(options.table)\" LIMIT 1")
    let sampleData = try sample.first?.decode([UInt8].self, column: 0) ?? []
    let dataHex = sampleData.map { String(format: "%02x", $0) }.joined()
    log("encoded session data: \(sampleData.count) bytes")

    // pgbench's own rows: keys '1'...'N' with data of the same size, in the same table.
    let statements = store.statementsForBenchmarks
    var pgbench: PGBench?
    if options.pgbench || options.modes.contains(.raw) {  // raw reads these rows too
        _ = try await admin.query("""
            INSERT INTO \(statements.table) (key, data, expires_on)
            SELECT g::text, $1, now() + interval '30 days' FROM generate_series(1, $2::int8) g
            """, [.bytea(sampleData), .int8(Int64(options.sessions))])
    }
    if options.pgbench {
        pgbench = try PGBench(
            url: options.url, statements: statements, touch: await store.touchThresholdForBenchmarks,
            lifetime: Double(await store.maxAge), dataHex: dataHex, keyCount: options.sessions, serverCPU: serverCPU)
    }
    if options.filler > 0 {
        log("adding \(options.filler) filler rows")
        _ = try await admin.query("""
            INSERT INTO \(statements.table) (key, data, expires_on)
            SELECT encode(sha256(('filler' || g)::bytea), 'base64'), $1, now() + interval '30 days'
            FROM generate_series(1, $2::int8) g
            """, [.bytea(sampleData), .int8(Int64(options.filler))])
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
    log("table \(options.table): \(rows) rows")

    rawQuery = (statements.select, [.float8(await store.touchThresholdForBenchmarks)])
    rawKeyCount = options.sessions
    noActorCodec = try SessionCodecBenchmark(keys: [try makeKey(7, encrypted: options.encrypted)])
    /// A measured run of the store, and its CPU per operation on each side.
    func measure(_ mode: Options.Mode, tasks: Int) async throws -> (Measurement, CPUSplit) {
        let serverBefore = serverCPU?.seconds()
        let measured = try await LoadRun.run(store: store, cookies: cookies, mode: mode, tasks: tasks, seconds: options.duration)
        let cpu = CPUSplit(
            operations: Double(measured.operations), clientSeconds: measured.cpuSeconds,
            serverSeconds: serverCPU?.seconds(since: serverBefore))
        return (measured, cpu)
    }

    for mode in options.modes {
        var pgbenchBest: (tps: Double, clients: Int) = (0, 0)
        if let pgbench {
            let clients = options.pgbenchClients.isEmpty ? Array(Set([options.pool, 8, 16, 32, 64])).sorted() : options.pgbenchClients
            pgbenchBest = pgbench.best(mode: mode, clients: clients, duration: options.duration)
        }
        for tasks in options.tasks {
            _ = try await LoadRun.run(store: store, cookies: cookies, mode: mode, tasks: tasks, seconds: min(1, options.duration / 3))
            var result: Measurement
            var ratio: Double
            var pgbenchTPS = pgbenchBest.tps
            if options.rounds > 1, let pgbench {
                // The neighbours' load on a shared machine drifts by tens of percent within
                // minutes: each store run follows a pgbench run (at pgbench's best client count)
                // of its own, and the round with the median ratio is reported.
                var rounds: [(ratio: Double, tps: Double, result: Measurement)] = []
                for round in 1...options.rounds {
                    let (tps, pgbenchCPU) = pgbench.run(mode: mode, clients: pgbenchBest.clients, duration: options.duration)
                    let (measured, cpu) = try await measure(mode, tasks: tasks)
                    let pairRatio = tps > 0 ? measured.opsPerSecond / tps : 0
                    log(String(format: "round %d: mode=%@ tasks=%d ops_per_s=%.0f pgbench_tps=%.0f ratio=%.2f",
                               round, mode.rawValue, tasks, measured.opsPerSecond, tps, pairRatio)
                        + " cpu: store \(cpu); pgbench \(pgbenchCPU)")
                    rounds.append((pairRatio, tps, measured))
                }
                let median = rounds.sorted { $0.ratio < $1.ratio }[rounds.count / 2]
                (ratio, pgbenchTPS, result) = (median.ratio, median.tps, median.result)
            } else {
                let cpu: CPUSplit
                (result, cpu) = try await measure(mode, tasks: tasks)
                ratio = pgbenchBest.tps > 0 ? result.opsPerSecond / pgbenchBest.tps : 0
                log("mode=\(mode) tasks=\(tasks) cpu: \(cpu)")
            }
            emit(String(
                format: "RESULT mode=%@ tasks=%d pool=%d ops_per_s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f cpu_us_per_op=%.1f rss_mb=%.0f pgbench_tps=%.0f ratio=%.2f",
                mode.rawValue, tasks, options.pool, result.opsPerSecond, result.percentileMillis(0.5),
                result.percentileMillis(0.99), result.percentileMillis(0.999), result.cpuMicrosPerOp,
                ProcessStats.peakRSSMegabytes(), pgbenchTPS, ratio))
            if result.errors > 0 { log("mode=\(mode) tasks=\(tasks): \(result.errors) errors") }
        }
    }
    pgbench?.removeScripts()
    await store.close()
    _ = try await admin.query("DROP TABLE IF EXISTS \"\(options.table)\"")
    await admin.close()
} catch {
    log("benchmark failed: \(error)")
    exit(1)
}
