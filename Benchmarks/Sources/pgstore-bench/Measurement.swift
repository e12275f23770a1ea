import Foundation

/// What one measured run produced.
struct Measurement {
    var operations = 0
    var errors = 0
    var seconds = 0.0
    var cpuSeconds = 0.0
    /// Latency percentiles in milliseconds: p50, p99, p99.9. Kept as three numbers, not the
    /// samples: the samples of a 10-second run at 10,000 tasks are megabytes of the benchmark's
    /// own, which the store's peak RSS would count (see ``Latencies``).
    var p50Millis = 0.0
    var p99Millis = 0.0
    var p999Millis = 0.0

    var opsPerSecond: Double { seconds > 0 ? Double(operations) / seconds : 0 }

    var cpuMicrosPerOp: Double { operations > 0 ? cpuSeconds * 1_000_000 / Double(operations) : 0 }

    /// Sets the percentiles from the run's latency samples, sorting them in place.
    mutating func setPercentiles(sorting samples: inout [UInt32]) {
        samples.sort()
        p50Millis = Latencies.percentileMillis(sorted: samples, 0.5)
        p99Millis = Latencies.percentileMillis(sorted: samples, 0.99)
        p999Millis = Latencies.percentileMillis(sorted: samples, 0.999)
    }
}

/// Latency samples as each load task records them: whole microseconds in 32 bits (71 minutes at
/// most). Half the bytes of nanoseconds in 64 bits, and the percentiles printed have 10 µs steps.
/// At 10,000 tasks the samples (about 900,000 in a 10-second run), their concatenation and the
/// sorted copies that each percentile used to make took 19-30 MB of the run's peak RSS (133 and
/// 143 MB against 114 and 113 MB without recording, 2026-12-04).
enum Latencies {
    static func micros(_ duration: Duration) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        return UInt32(clamping: seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }

    static func percentileMillis(sorted: [UInt32], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let index = min(sorted.count - 1, Int(Double(sorted.count) * fraction))
        return Double(sorted[index]) / 1_000
    }
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
