import Foundation
import PGClient

/// `--size-rounds N`: whether reads cost more on a large table, with the machine's drift taken
/// out. Two tables, one of `--sessions` sessions and one with `--filler` more rows, are read in
/// the same process in alternating rounds: each round runs pgbench and then the store on one
/// table, then on the other, the order swapping every round (small first, then large first), so
/// that a slow spell of the shared machine weighs on both tables alike. Each round's large/small
/// ratio compares runs a few seconds apart; two separate invocations minutes apart (as measured
/// before) put the machine's drift, up to ±20% here, into the figure.
///
/// Prints two RESULT lines, the small table's and then the large table's (each the round with
/// that table's median store rate, with its own pgbench run's tps and ratio), and logs every
/// round and the median large/small ratios of the store and of pgbench.
enum SizeComparison {
    struct Round {
        var small: (measurement: Measurement, pgbenchTPS: Double)
        var large: (measurement: Measurement, pgbenchTPS: Double)
        var storeRatio: Double { small.measurement.opsPerSecond > 0 ? large.measurement.opsPerSecond / small.measurement.opsPerSecond : 0 }
        var pgbenchRatio: Double { small.pgbenchTPS > 0 ? large.pgbenchTPS / small.pgbenchTPS : 0 }
    }

    static func run(options: Options, admin: ConnectionPool, serverCPU: ServerCPU?) async throws {
        guard options.filler > 0 else { throw OptionError("--size-rounds needs --filler N (the large table's extra rows)") }
        let mode = options.modes[0]
        let tasks = options.tasks[0]
        let small = try await Fixture.prepare(
            table: options.table, filler: 0, options: options, admin: admin, serverCPU: serverCPU)
        let large = try await Fixture.prepare(
            table: options.table + "_large", filler: options.filler, options: options, admin: admin, serverCPU: serverCPU)
        let clients = options.pgbenchClients.first ?? options.pool

        func measure(_ fixture: Fixture, round: Int) async throws -> (measurement: Measurement, pgbenchTPS: Double) {
            try await fixture.pairedRound(round, mode: mode, tasks: tasks, pgbenchClients: clients, seconds: options.duration)
        }

        for fixture in [small, large] {  // warm both the server's caches and the client
            try await fixture.warmUp(mode, tasks: tasks, duration: options.duration)
        }
        var rounds: [Round] = []
        for round in 1...options.sizeRounds {
            let first = try await measure(round.isMultiple(of: 2) ? large : small, round: round)
            let second = try await measure(round.isMultiple(of: 2) ? small : large, round: round)
            let pair = round.isMultiple(of: 2) ? Round(small: second, large: first) : Round(small: first, large: second)
            log(String(format: "round %d: large/small store %.2f, pgbench %.2f", round, pair.storeRatio, pair.pgbenchRatio))
            rounds.append(pair)
        }

        for side in [\Round.small, \Round.large] {
            let median = rounds.map { $0[keyPath: side] }.sorted { $0.measurement.opsPerSecond < $1.measurement.opsPerSecond }[rounds.count / 2]
            emitResult(
                mode: mode, tasks: tasks, median.measurement, pgbenchTPS: median.pgbenchTPS,
                ratio: median.pgbenchTPS > 0 ? median.measurement.opsPerSecond / median.pgbenchTPS : 0)
        }
        log(String(
            format: "size summary: rows %d vs %d; large/small median store %.2f (rounds %@), pgbench %.2f (rounds %@)",
            large.rows, small.rows, Self.median(rounds.map(\.storeRatio)), Self.list(rounds.map(\.storeRatio)),
            Self.median(rounds.map(\.pgbenchRatio)), Self.list(rounds.map(\.pgbenchRatio))))

        try await small.tearDown(admin: admin)
        try await large.tearDown(admin: admin)
    }

    private static func median(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.sorted()[values.count / 2]
    }

    private static func list(_ values: [Double]) -> String {
        values.map { String(format: "%.2f", $0) }.joined(separator: " ")
    }
}
