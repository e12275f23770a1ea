@_spi(Benchmarks) import PGStore

/// `pgstore-bench --codec-loop N`: the codec work of N gets (open the cookie, open and decode the
/// row's data) with no database, for instruction-counting profilers, whose counts do not depend
/// on what else the machine is doing:
///
///     valgrind --tool=callgrind Benchmarks/.build/release/pgstore-bench --codec-loop 20000
enum CodecLoop {
    static func run(iterations: Int, encrypted: Bool) throws {
        let codec = try SessionCodecBenchmark(keys: [try makeKey(7, encrypted: encrypted)])
        let id = codec.newID()
        let values: [String: SessionValue] = [
            "user": 42, "name": "user 42", "role": "member", "n": 0,
            "pad": .string(String(repeating: "v", count: 140)),
        ]
        let sealed = try codec.sealValues(values, id: id)
        let header = "theme=dark; sid=" + codec.sealCookie(id: id, name: "sid")
        var opened = 0
        let start = ContinuousClock.now
        for _ in 0..<iterations {
            if let found = codec.openCookie(header: header, name: "sid"), codec.openValues(sealed, id: found)?.count == 5 {
                opened += 1
            }
        }
        let elapsed = ContinuousClock.now - start
        let nanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        log("codec loop: \(opened) of \(iterations) gets opened, \(Int(nanos / Double(max(iterations, 1)))) ns each")
    }
}
