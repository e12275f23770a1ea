import Benchmark
@_spi(Benchmarks) import PGStore

// The codec work of one request on a typical session (5 values, about 200 bytes), signed and
// signed+encrypted: time and allocations per operation.
//
//   swift package --package-path Benchmarks benchmark --target CodecBenchmarks

let typicalValues: [String: SessionValue] = [
    "user": 42, "name": "Ada Lovelace", "role": "admin", "visits": 7,
    "prefs": .string(String(repeating: "v", count: 140)),
]

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .instructions], maxDuration: .seconds(2))

    for (label, encryptionKey) in [("signed", nil), ("signed+encrypted", [UInt8](repeating: 2, count: 32))] as [(String, [UInt8]?)] {
        guard
            let key = try? SessionKey(hashKey: [UInt8](repeating: 1, count: 32), encryptionKey: encryptionKey),
            let codec = try? SessionCodecBenchmark(keys: [key])
        else { continue }
        let id = codec.newID()
        guard let sealed = try? codec.sealValues(typicalValues, id: id) else { continue }
        let header = "theme=dark; sid=" + codec.sealCookie(id: id, name: "sid")

        Benchmark("encode session (\(label))") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(try codec.sealValues(typicalValues, id: id)) }
        }
        Benchmark("decode session (\(label))") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(codec.openValues(sealed, id: id)) }
        }
        Benchmark("seal cookie (\(label))") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(codec.sealCookie(id: id, name: "sid")) }
        }
        Benchmark("open cookie (\(label))") { benchmark in
            for _ in benchmark.scaledIterations { blackHole(codec.openCookie(header: header, name: "sid")) }
        }
    }
}
