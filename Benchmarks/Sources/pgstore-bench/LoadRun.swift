import Foundation
@_spi(Benchmarks) import PGStore
import PGClient
import PostgresNIO

/// The store's SELECT and its constant parameters, for the `raw` mode (set up in main).
nonisolated(unsafe) var rawQuery: (String, [PGValue]) = ("", [])
nonisolated(unsafe) var rawKeyCount = 1
/// The store's codec (same keys) for the `noactor` mode (set up in main).
nonisolated(unsafe) var noActorCodec: SessionCodecBenchmark?
/// PostgresNIO's client for the `nio` and `nioraw` modes (set up in main when they run).
nonisolated(unsafe) var postgresNIO: PostgresNIOComparison?

/// One measured run: `tasks` concurrent tasks doing `mode` operations for `seconds`.
enum LoadRun {
    static func run(
        store: SessionStore, cookies: [String], mode: Options.Mode, tasks: Int, seconds: Double, onPoolThread: Bool
    ) async throws -> Measurement {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int(seconds * 1000))
        let cpuBefore = ProcessStats.cpuSeconds()
        var measurement = Measurement()
        // nil: the global executor, as callers in most applications.
        let executor: (any TaskExecutor)? = onPoolThread ? store.pool.taskExecutor : nil
        var latencies: [UInt32] = []
        await withTaskGroup(of: (Int, Int, [UInt32]).self) { group in
            for worker in 0..<tasks {
                let body: @Sendable () async -> (Int, Int, [UInt32]) = {
                    var generator = FastRandom(seed: UInt64(worker) &+ 1)
                    var latencies: [UInt32] = []
                    // No reservation: at 10,000 tasks even 256 slots each would be 10 MB of the
                    // benchmark's own bookkeeping counted in the store's peak RSS.
                    var operations = 0
                    var errors = 0
                    var now = clock.now
                    while now < deadline {
                        let began = now
                        do {
                            try await operation(store, cookies, mode, worker, &generator)
                            operations += 1
                        } catch {
                            errors += 1
                        }
                        now = clock.now
                        latencies.append(Latencies.micros(now - began))
                    }
                    return (operations, errors, latencies)
                }
                // Not `addTask(executorPreference: nil)` for the global executor: that gives each
                // task an executor-preference record all the same, and then every task switch
                // takes the task's status-record lock to read it (0.66% of the client's samples in
                // that lock's callback; 9.7 -> 9.0 us of CPU per get, medians of ten alternating
                // runs), which a handler task of a web framework, created without one, never pays.
                if let executor {
                    group.addTask(executorPreference: executor, operation: body)
                } else {
                    group.addTask(operation: body)
                }
            }
            for await (operations, errors, taskLatencies) in group {
                measurement.operations += operations
                measurement.errors += errors
                latencies += taskLatencies
            }
        }
        let elapsed = (clock.now - start).components
        measurement.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        measurement.cpuSeconds = ProcessStats.cpuSeconds() - cpuBefore
        measurement.setPercentiles(sorting: &latencies)
        return measurement
    }

    private nonisolated(nonsending) static func operation(
        _ store: SessionStore, _ cookies: [String], _ mode: Options.Mode, _ worker: Int,
        _ generator: inout FastRandom
    ) async throws {
        var kind = mode
        if mode == .mixed {
            let roll = Int.random(in: 0..<100, using: &generator)
            kind = roll < 90 ? .get : roll < 99 ? .getsave : .new
        }
        // One function per kind, so a task's async frame holds only what its kind needs (the
        // 10,000-task run measures peak RSS). All of them run on the caller's executor
        // (nonisolated(nonsending)), as a handler compiled with Swift 6.2's
        // NonisolatedNonsendingByDefault would: as plain nonisolated functions they added three
        // task switches per operation of the harness's own.
        switch kind {
        case .raw: try await raw(store, &generator)
        case .noactor: try await getWithoutActor(store, cookies, &generator)
        case .nio: try await getThroughPostgresNIO(cookies, &generator)
        case .nioraw: try await rawThroughPostgresNIO(&generator)
        case .get, .mixed: try await get(store, cookies, &generator)
        case .getsave: try await getSave(store, cookies, &generator)
        case .new: try await new(store, worker)
        }
    }

    /// A get's codec work and query on the calling task: what `get` costs without the hops onto
    /// and off the store actor (a diagnostic, not an API: the store keeps its codec on the actor).
    @inline(never)
    private nonisolated(nonsending) static func getWithoutActor(_ store: SessionStore, _ cookies: [String], _ generator: inout FastRandom)
        async throws
    {
        let cookie = cookies[Int.random(in: 0..<cookies.count, using: &generator)]
        guard let codec = noActorCodec, let id = codec.openCookie(header: cookie, name: "sid") else { throw BenchError.missed }
        let rows = try await store.pool.query(rawQuery.0, [.text(id)] + rawQuery.1, readOnly: true)
        guard let row = rows.first else { throw BenchError.missed }
        if try row.withUnsafeBytes(column: 0, { codec.openValues($0, id: id) }) == nil { throw BenchError.missed }
    }

    /// A get as a session store written on PostgresNIO would do it: the same codec work as
    /// `noactor`, on the calling task, and the same SELECT as a PostgresNIO prepared statement.
    @inline(never)
    private nonisolated(nonsending) static func getThroughPostgresNIO(_ cookies: [String], _ generator: inout FastRandom) async throws {
        let cookie = cookies[Int.random(in: 0..<cookies.count, using: &generator)]
        guard let client = postgresNIO?.client, let codec = noActorCodec, let id = codec.openCookie(header: cookie, name: "sid") else {
            throw BenchError.missed
        }
        let rows = try await client.execute(SelectSessionStatement(key: id))
        var opened = false
        for try await (data, _) in rows {
            opened = data.withUnsafeReadableBytes { codec.openValues($0, id: id) } != nil
        }
        if !opened { throw BenchError.missed }
    }

    /// `raw` through PostgresNIO: the store's SELECT of pgbench's rows, nothing else.
    @inline(never)
    private nonisolated(nonsending) static func rawThroughPostgresNIO(_ generator: inout FastRandom) async throws {
        guard let client = postgresNIO?.client else { throw BenchError.missed }
        let key = String(Int.random(in: 1...rawKeyCount, using: &generator))
        let rows = try await client.execute(SelectSessionStatement(key: key))
        var count = 0
        for try await _ in rows { count += 1 }
        if count != 1 { throw BenchError.missed }
    }

    @inline(never)
    private nonisolated(nonsending) static func raw(_ store: SessionStore, _ generator: inout FastRandom) async throws {
        let (sql, parameters) = rawQuery
        let key = PGValue.text(String(Int.random(in: 1...rawKeyCount, using: &generator)))
        let rows = try await store.pool.query(sql, [key] + parameters, readOnly: true)
        if rows.rowCount != 1 { throw BenchError.missed }
    }

    @inline(never)
    private nonisolated(nonsending) static func get(_ store: SessionStore, _ cookies: [String], _ generator: inout FastRandom) async throws {
        let cookie = cookies[Int.random(in: 0..<cookies.count, using: &generator)]
        let session = try await store.get(cookieHeader: cookie, name: "sid")
        if session.isNew { throw BenchError.missed }
    }

    @inline(never)
    private nonisolated(nonsending) static func getSave(_ store: SessionStore, _ cookies: [String], _ generator: inout FastRandom) async throws {
        let cookie = cookies[Int.random(in: 0..<cookies.count, using: &generator)]
        var session = try await store.get(cookieHeader: cookie, name: "sid")
        if session.isNew { throw BenchError.missed }
        session.values["n"] = .int(Int.random(in: 0..<1_000_000, using: &generator))
        _ = try await store.save(&session)
    }

    @inline(never)
    private nonisolated(nonsending) static func new(_ store: SessionStore, _ worker: Int) async throws {
        var session = await store.new(name: "sid")
        session.values["user"] = .int(worker)
        _ = try await store.save(&session)
    }

    enum BenchError: Error { case missed }
}

/// The load generator's own random numbers: SplitMix64, no system call per number (the system
/// generator's `getrandom` per operation showed up in the client's CPU profile). Picking which
/// cookie to send needs no cryptographic quality.
struct FastRandom: RandomNumberGenerator {
    private var state: UInt64
    /// The state is the seed scrambled, not the seed times the increment: SplitMix64's stream
    /// from state `k·γ` is the stream from 0 shifted by `k` steps, so with seeds 1, 2, 3, ... (one
    /// per task) every task picked the same cookies as its neighbour, one step later. Until
    /// 2026-12-03, 16:34 UTC the load's 64 tasks walked one sequence that way: the same rows read
    /// (and in getsave written) by several tasks within a few operations.
    init(seed: UInt64) { state = Self.mix(seed &+ 0x9E37_79B9_7F4A_7C15) }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
