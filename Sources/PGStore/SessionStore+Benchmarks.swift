extension SessionStore {
    /// The statements the store sends, so the benchmark can hand pgbench the very same SQL.
    /// Not part of the supported API.
    @_spi(Benchmarks)
    public nonisolated var statementsForBenchmarks: (select: String, update: String, insert: String, table: String) {
        (table.selectSQL, table.updateSQL, table.insertSQL, table.qualifiedName)
    }

    /// The threshold (seconds left before expiry) the store passes as `$2` of the select.
    @_spi(Benchmarks)
    public var touchThresholdForBenchmarks: Double {
        touchThreshold
    }
}
