import Foundation

/// Command-line options of the load generator.
struct Options {
    /// `raw` runs the store's SELECT straight through the pool (no codec, no store actor), to
    /// separate the client's cost from the store's. `noactor` does a get's work (open the
    /// cookie, the SELECT, open and decode the row) on the calling task, without the
    /// `SessionStore` actor, to measure what the actor's hops cost. `nio` does what `noactor` does
    /// with PostgresNIO's client sending the SELECT instead of the store's pool (a session store
    /// written on PostgresNIO), `nioraw` what `raw` does through PostgresNIO.
    enum Mode: String, CaseIterable {
        case get, getsave, new, mixed, raw, noactor, nio, nioraw

        /// Whether the mode's queries go through PostgresNIO rather than the store's pool.
        var usesPostgresNIO: Bool { self == .nio || self == .nioraw }
    }

    var url = ProcessInfo.processInfo.environment["PGSTORE_TEST_URL"] ?? ""
    var modes: [Mode] = [.get]
    var tasks: [Int] = [64]
    var pool = 8
    var nioConnections: Int?  // PostgresNIO's connections in the nio modes; nil: the pool size
    var duration = 10.0
    var sessions = 100_000
    var valueSize = 200
    var encrypted = true
    var pgbench = true
    var pgbenchClients: [Int] = []  // empty: the pool size and 8, 16, 32, 64
    var table = "bench_sessions"
    var filler = 0
    var pack: Int?  // the pool's preferredPipelineDepth; nil: its default
    var writeCost: Int?  // the pool's writeCost; nil: its default
    var codecLoop: Int?
    var rounds = 1
    var sizeRounds = 0
    var onPoolThread = false
    var randomIDs = false

    /// The connections a mode's queries go over: PostgresNIO's in the nio modes, else the pool's.
    func connections(for mode: Mode) -> Int {
        mode.usesPostgresNIO ? nioConnections ?? pool : pool
    }

    static let usage = """
        usage: pgstore-bench [--url URL] [--mode get,getsave,new,mixed,raw,noactor,nio,nioraw] [--tasks 1,8,64,512] [--pool 8]
                             [--duration 10] [--sessions 100000] [--value-size 200] [--signed-only]
                             [--no-pgbench] [--pgbench-clients 8,32] [--table NAME] [--filler N]
                             [--pack N] [--write-cost N] [--codec-loop N] [--rounds N] [--size-rounds N] [--on-pool-thread]
                             [--random-ids] [--nio-connections N]
        --filler N adds N more rows of the same size to test how reads scale with table size, keyed as
          the store keys them: by default IDs that begin with an hour of the 30 days before the load's
          sessions were made (older sessions), with --random-ids fully random IDs.
        --random-ids makes the store's session IDs fully random (idsBeginWithCreationHour = false).
        --pack N sets the pool's preferredPipelineDepth (1 spreads every query over the least-loaded connection).
        --write-cost N sets the pool's writeCost (how many reads a write counts as in that packing; 1: the same).
        --rounds N pairs each measured run with a pgbench run just before it, N times, and reports the
          round with the median ratio (the load on a shared machine drifts).
        --size-rounds N reads a table of --sessions sessions and one with --filler more rows in N
          alternating rounds (pgbench, then the store, on each), for the first mode and task count;
          prints the small table's RESULT line, then the large one's, and logs the large/small ratios.
        --on-pool-thread runs the load's tasks on the pool's I/O thread (ConnectionPool.taskExecutor)
          instead of the global executor.
        --nio-connections N gives PostgresNIO's client in the nio and nioraw modes N connections (default:
          the pool size). It runs one query at a time per connection.
        --codec-loop N runs the codec work of N gets without a database (for callgrind) and exits.
        Prints one RESULT line per measured run on stdout; everything else goes to stderr.
        URL defaults to $PGSTORE_TEST_URL (scripts/with-postgres sets it).
        """

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        func next(_ flag: String) throws -> String {
            guard let value = iterator.next() else { throw OptionError("\(flag) needs a value") }
            return value
        }
        func ints(_ flag: String) throws -> [Int] {
            let list = try next(flag).split(separator: ",").compactMap { Int($0) }
            guard !list.isEmpty else { throw OptionError("\(flag) needs numbers") }
            return list
        }
        while let argument = iterator.next() {
            switch argument {
            case "--url": options.url = try next(argument)
            case "--mode":
                options.modes = try next(argument).split(separator: ",").map {
                    guard let mode = Mode(rawValue: String($0)) else { throw OptionError("unknown mode \($0)") }
                    return mode
                }
                guard !options.modes.isEmpty else { throw OptionError("--mode needs at least one mode") }
            case "--tasks": options.tasks = try ints(argument)
            case "--pool": options.pool = try ints(argument)[0]
            case "--duration": options.duration = Double(try next(argument)) ?? options.duration
            case "--sessions": options.sessions = try ints(argument)[0]
            case "--value-size": options.valueSize = try ints(argument)[0]
            case "--signed-only": options.encrypted = false
            case "--no-pgbench": options.pgbench = false
            case "--pgbench-clients": options.pgbenchClients = try ints(argument)
            case "--table": options.table = try next(argument)
            case "--filler": options.filler = try ints(argument)[0]
            case "--pack": options.pack = try ints(argument)[0]
            case "--write-cost": options.writeCost = try ints(argument)[0]
            case "--codec-loop": options.codecLoop = try ints(argument)[0]
            case "--rounds": options.rounds = max(1, try ints(argument)[0])
            case "--size-rounds": options.sizeRounds = max(1, try ints(argument)[0])
            case "--on-pool-thread": options.onPoolThread = true
            case "--random-ids": options.randomIDs = true
            case "--nio-connections": options.nioConnections = try ints(argument)[0]
            case "-h", "--help": throw OptionError(usage)
            default: throw OptionError("unknown option \(argument)\n\(usage)")
            }
        }
        guard !options.url.isEmpty || options.codecLoop != nil else { throw OptionError("no database: pass --url or set PGSTORE_TEST_URL") }
        return options
    }
}

struct OptionError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func log(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
