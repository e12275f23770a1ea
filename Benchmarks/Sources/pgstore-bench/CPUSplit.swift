import Foundation

/// CPU per operation on each side of a run: the client's (the benchmark, or pgbench) and the
/// server's. On two cores shared by both, their sum is what bounds the throughput, so a ratio to
/// pgbench reads best beside it.
struct CPUSplit: CustomStringConvertible {
    /// Client CPU per operation, in µs.
    let client: Double
    /// Server CPU per operation, in µs; `nil` when the server is not on this machine.
    let server: Double?

    /// The split of `operations` operations that cost the client `clientSeconds` of CPU and the
    /// server `serverSeconds` (`nil` when not known).
    init(operations: Double, clientSeconds: Double, serverSeconds: Double?) {
        let operations = max(1, operations)
        client = clientSeconds * 1e6 / operations
        server = serverSeconds.map { $0 * 1e6 / operations }
    }

    var description: String {
        guard let server else { return String(format: "client %.1f µs per op (server not local)", client) }
        return String(format: "client %.1f + server %.1f = %.1f µs per op", client, server, client + server)
    }
}

/// CPU time of a PostgreSQL server on this machine: the postmaster and every process it started,
/// read from /proc.
struct ServerCPU: Sendable {
    private let postmaster: Int32
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The server that runs backend `backendPID`, or `nil` when that process is not on this
    /// machine (a remote server) or /proc cannot be read.
    init?(backendPID: Int32) {
        guard let fields = Self.statFields(of: backendPID), let parent = Int32(fields[1]), parent > 1 else { return nil }
        postmaster = parent
    }

    /// CPU seconds the server has used so far: the processes it runs now, and those that have
    /// ended (which the postmaster's children's times hold once it has reaped them).
    func seconds() -> Double {
        // A backend reaped while the children are listed would be in neither count (or in
        // both): list them again until the postmaster's own count holds still around a listing.
        // It matters after pgbench, whose backends all exit at once.
        var attempts = 0
        while true {
            let reaped = postmasterTicks()
            let live = childrenTicks()
            attempts += 1
            if postmasterTicks() == reaped || attempts == 100 { return Double(reaped + live) / ticksPerSecond }
        }
    }

    /// The CPU seconds the server has used since `before`, a reading of ``seconds()``.
    func seconds(since before: Double?) -> Double? { before.map { seconds() - $0 } }

    /// The postmaster's CPU and that of the children it has reaped, in clock ticks.
    private func postmasterTicks() -> Int {
        Self.statFields(of: postmaster).map { Self.sum($0, 11...14) } ?? 0
    }

    /// The CPU of the postmaster's children not reaped yet, in clock ticks.
    private func childrenTicks() -> Int {
        var ticks = 0
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != postmaster, let fields = Self.statFields(of: pid),
                fields[1] == String(postmaster)
            else { continue }
            ticks += Self.sum(fields, 11...12)
        }
        return ticks
    }

    /// The fields of /proc/PID/stat after the command name (which may contain spaces): [0] state,
    /// [1] parent, ... [11] user time, [12] system time, [13] and [14] those of reaped children.
    private static func statFields(of pid: Int32) -> [Substring]? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: end)...].split(separator: " ")
        return fields.count > 14 ? fields : nil
    }

    private static func sum(_ fields: [Substring], _ range: ClosedRange<Int>) -> Int {
        range.reduce(0) { $0 + (Int(fields[$1]) ?? 0) }
    }
}
