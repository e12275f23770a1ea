import Foundation

/// What one measured run produced.
struct Measurement {
    var operations = 0
    var errors = 0
    var seconds = 0.0
    var latenciesNanos: [UInt64] = []
    var cpuSeconds = 0.0

    var opsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }

    func percentileMillis(_ fraction: Double) -> Double {
        guard !latenciesNanos.isEmpty else { return 0 }
        let sorted = latenciesNanos.sorted()
        let index = min(sorted.count - 1, Int(Double(sorted.count) * fraction))
        return Double(sorted[index]) / 1_000_000
    }

    var cpuMicrosPerOp: Double { operations > 0 ? cpuSeconds * 1_000_000 / Double(operations) : 0 }
}

enum ProcessStats {
    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double { cpuSeconds(RUSAGE_SELF.rawValue) }

    /// User + system CPU seconds of the child processes that have ended (pgbench).
    static func childrenCPUSeconds() -> Double { cpuSeconds(RUSAGE_CHILDREN.rawValue) }

    private static func cpuSeconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(who, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Peak resident set size in MB.
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
