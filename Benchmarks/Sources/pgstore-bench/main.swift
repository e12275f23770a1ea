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
    let admin = try ConnectionPool(url: options.url)
    // The server's CPU beside the client's, when the server runs on this machine.
    let serverCPU = try await admin.query("SELECT pg_backend_pid()").first
        .flatMap { try ServerCPU(backendPID: $0.decode(Int32.self, column: 0)) }
    if options.sizeRounds > 0 {
        try await SizeComparison.run(options: options, admin: admin, serverCPU: serverCPU)
    } else {
        try await runModes(admin: admin, serverCPU: serverCPU)
    }
    await admin.close()
} catch {
    log("benchmark failed: \(error)")
    exit(1)
}

/// Every mode at every task count on one table, each beside pgbench.
func runModes(admin: ConnectionPool, serverCPU: ServerCPU?) async throws {
    let fixture = try await Fixture.prepare(
        table: options.table, filler: options.filler, options: options, admin: admin, serverCPU: serverCPU)
    let store = fixture.store
    rawQuery = (fixture.statements.select, [.float8(await store.touchThresholdForBenchmarks)])
    rawKeyCount = options.sessions
    noActorCodec = try SessionCodecBenchmark(keys: [try makeKey(7, encrypted: options.encrypted)])
    if options.modes.contains(where: \.usesPostgresNIO) {
        SelectSessionStatement.touchThreshold = await store.touchThresholdForBenchmarks
        postgresNIO = try PostgresNIOComparison(url: options.url, connections: options.connections(for: .nio))
    }
    for mode in options.modes {
        var pgbenchBest: (tps: Double, clients: Int) = (0, 0)
        if let pgbench = fixture.pgbench {
            let clients = options.pgbenchClients.isEmpty ? Array(Set([options.pool, 8, 16, 32, 64])).sorted() : options.pgbenchClients
            pgbenchBest = pgbench.best(mode: mode, clients: clients, duration: options.duration)
        }
        for tasks in options.tasks {
            try await fixture.warmUp(mode, tasks: tasks, duration: options.duration)
            var result: Measurement
            var ratio: Double
            var pgbenchTPS = pgbenchBest.tps
            if options.rounds > 1, fixture.pgbench != nil {
                // The neighbours' load on a shared machine drifts by tens of percent within
                // minutes: each store run follows a pgbench run (at pgbench's best client count)
                // of its own, and the round with the median ratio is reported.
                var rounds: [(ratio: Double, tps: Double, result: Measurement)] = []
                for round in 1...options.rounds {
                    let (measured, tps) = try await fixture.pairedRound(
                        round, mode: mode, tasks: tasks, pgbenchClients: pgbenchBest.clients, seconds: options.duration)
                    rounds.append((tps > 0 ? measured.opsPerSecond / tps : 0, tps, measured))
                }
                let median = rounds.sorted { $0.ratio < $1.ratio }[rounds.count / 2]
                (ratio, pgbenchTPS, result) = (median.ratio, median.tps, median.result)
            } else {
                let cpu: CPUSplit
                (result, cpu) = try await fixture.measure(mode, tasks: tasks, seconds: options.duration)
                ratio = pgbenchBest.tps > 0 ? result.opsPerSecond / pgbenchBest.tps : 0
                log("mode=\(mode) tasks=\(tasks) cpu: \(cpu)")
            }
            emitResult(mode: mode, tasks: tasks, result, pgbenchTPS: pgbenchTPS, ratio: ratio)
        }
    }
    await postgresNIO?.close()
    try await fixture.tearDown(admin: admin)
}

/// The RESULT line of one measured run (see the README's benchmark section for its fields).
/// `pool` is the connections the mode's queries went over: PostgresNIO's in the nio modes.
func emitResult(mode: Options.Mode, tasks: Int, _ result: Measurement, pgbenchTPS: Double, ratio: Double) {
    emit(String(
        format: "RESULT mode=%@ tasks=%d pool=%d ops_per_s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f cpu_us_per_op=%.1f rss_mb=%.0f pgbench_tps=%.0f ratio=%.2f",
        mode.rawValue, tasks, options.connections(for: mode), result.opsPerSecond, result.p50Millis,
        result.p99Millis, result.p999Millis, result.cpuMicrosPerOp,
        ProcessStats.peakRSSMegabytes(), pgbenchTPS, ratio))
    if result.errors > 0 { log("mode=\(mode) tasks=\(tasks): \(result.errors) errors") }
}
