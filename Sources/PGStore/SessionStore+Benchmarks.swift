extension SessionStore {
    /// The statements the store sends, so the benchmark can hand pgbench the very same SQL:
    /// `update` is the one a changed session whose expiry is not due sends (`$1` key, `$2` data,
    /// `$3` fingerprint). Not part of the supported API.
    @_spi(Benchmarks)
    public nonisolated var statementsForBenchmarks: (select: String, update: String, insert: String, table: String) {
        (table.selectSQL, table.updateDataSQL, table.insertSQL, table.qualifiedName)
    }

    /// What the store's UPDATE passes as `$4` for a row holding `data`: the fingerprint it
    /// compares with the row's, so that pgbench's UPDATE matches its rows as the store's does.
    @_spi(Benchmarks)
    public nonisolated static func fingerprintForBenchmarks(of data: [UInt8]) -> [UInt8] {
        DataFingerprint(of: data).parameter
    }

    /// The threshold (seconds left before expiry) the store passes as `$2` of the select.
    @_spi(Benchmarks)
    public var touchThresholdForBenchmarks: Double {
        touchThreshold
    }
}

/// The codec steps of a request, one by one, for micro-benchmarks. Not part of the supported API.
@_spi(Benchmarks)
public struct SessionCodecBenchmark: Sendable {
    let codec: SessionCodec

    /// A codec with the store's keys.
    public init(keys: [SessionKey]) throws { codec = try SessionCodec(keys: keys) }

    /// A new session ID, as the store makes them.
    public func newID() -> String { SessionCodec.newSessionID(hourFirst: true) }

    /// Encodes and seals values for the database (what save does).
    public func sealValues(_ values: [String: SessionValue], id: String) throws -> [UInt8] {
        try codec.sealData(ValueEncoding.encode(values), sessionID: id)
    }

    /// Opens and decodes values from the database (what get does after the query).
    public func openValues(_ data: [UInt8], id: String) -> [String: SessionValue]? {
        data.withUnsafeBytes { codec.openValues($0, sessionID: id) }
    }

    /// Opens and decodes values in place, as get does with the row's bytes.
    public func openValues(_ data: UnsafeRawBufferPointer, id: String) -> [String: SessionValue]? {
        codec.openValues(data, sessionID: id)
    }

    /// Seals a cookie value for the ID (what save does).
    public func sealCookie(id: String, name: String) -> String {
        codec.sealCookie(id: Base64URL.decode(Substring(id).utf8) ?? [], name: name, issuedAt: Cookie.unixNow())
    }

    /// Finds the cookie in a `Cookie` header, reads the ID it claims and opens it (what get does
    /// before the query, then on the actor).
    public func openCookie(header: String, name: String) -> String? {
        guard let (value, _) = Cookie.value(named: name, in: header, from: 0), let claimed = SessionCodec.claimedCookie(in: value),
            case .success(let id) = codec.openCookie(claimed, name: name, now: Cookie.unixNow(), maxAge: 86_400)
        else { return nil }
        return id
    }
}
