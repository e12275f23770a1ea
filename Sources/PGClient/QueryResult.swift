import CLibPQ

/// The rows a statement returned.
///
/// It owns the libpq result (freed exactly once, when the last reference goes) and gives typed,
/// bounds-checked access: a row or column out of range, a NULL or a value of another type is a
/// ``PGError`` with code ``PGError/Code/decoding``, never a trap. Results are immutable and may be
/// shared across tasks.
public final class QueryResult: Sendable {
    // A PGresult is read-only after creation and libpq allows reading it from any thread.
    private nonisolated(unsafe) let handle: OpaquePointer

    /// The number of rows.
    public let rowCount: Int
    /// The number of columns.
    public let columnCount: Int

    /// Takes ownership of `handle`; it is cleared in `deinit` and nowhere else.
    init(taking handle: OpaquePointer) {
        self.handle = handle
        self.rowCount = Int(PQntuples(handle))
        self.columnCount = Int(PQnfields(handle))
    }

    deinit { PQclear(handle) }

    /// The number of rows the statement inserted, updated or deleted (0 for other statements).
    public var affectedRows: Int {
        guard let text = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: text)) ?? 0
    }

    /// The name of a column, or `nil` when out of range.
    public func columnName(_ column: Int) -> String? {
        guard column >= 0, column < columnCount, let name = PQfname(handle, Int32(column)) else { return nil }
        return String(cString: name)
    }

    /// The index of the column with this name, or `nil`.
    public func columnIndex(named name: String) -> Int? {
        let index = Int(PQfnumber(handle, name))
        return index >= 0 ? index : nil
    }

    /// The row at `index`.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when `index` is out of range.
    public func row(_ index: Int) throws -> Row {
        guard index >= 0, index < rowCount else {
            throw PGError.decoding("row \(index) out of range (\(rowCount) rows)")
        }
        return Row(result: self, index: index)
    }

    /// All rows, in order.
    public var rows: [Row] { (0..<rowCount).map { Row(result: self, index: $0) } }

    /// The first row, or `nil` when there is none.
    public var first: Row? { rowCount > 0 ? Row(result: self, index: 0) : nil }

    func checkedColumn(_ column: Int) throws -> Int32 {
        guard column >= 0, column < columnCount else {
            throw PGError.decoding("column \(column) out of range (\(columnCount) columns)")
        }
        return Int32(column)
    }

    func isNull(row: Int, column: Int32) -> Bool { PQgetisnull(handle, Int32(row), column) == 1 }

    func type(of column: Int32) -> UInt32 { UInt32(PQftype(handle, column)) }

    func withValue<T>(row: Int, column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let length = Int(PQgetlength(handle, Int32(row), column))
        guard let pointer = PQgetvalue(handle, Int32(row), column) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: length))
    }
}

/// One row of a ``QueryResult``.
public struct Row: Sendable {
    let result: QueryResult
    /// The row's index in its result.
    public let index: Int

    /// Decodes a column as `T`.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range, NULL, or
    ///   of a type `T` cannot be decoded from.
    public func decode<T: PGDecodable>(_ type: T.Type = T.self, column: Int) throws -> T {
        guard let value = try decodeIfPresent(type, column: column) else {
            throw PGError.decoding("column \(column) is NULL; decode it as an optional")
        }
        return value
    }

    /// Decodes a column as `T`, or returns `nil` when it is NULL.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range or of a type
    ///   `T` cannot be decoded from.
    public func decodeIfPresent<T: PGDecodable>(_ type: T.Type = T.self, column: Int) throws -> T? {
        try withValueIfPresent(column: column) { bytes, oid in try T.decode(pgBinary: bytes, type: oid) }
    }

    /// Calls `body` with a column's bytes and type OID, or returns `nil` when it is NULL.
    private func withValueIfPresent<Result>(
        column: Int, _ body: (UnsafeRawBufferPointer, UInt32) throws -> Result
    ) throws -> Result? {
        let column32 = try result.checkedColumn(column)
        if result.isNull(row: index, column: column32) { return nil }
        let oid = result.type(of: column32)
        return try result.withValue(row: index, column: column32) { try body($0, oid) }
    }

    /// Calls `body` with a column's bytes as the server sent them (binary format), without
    /// copying them out of the result: for large `bytea` values read once.
    ///
    /// The buffer is valid only during the call.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range or NULL,
    ///   or what `body` throws.
    public func withUnsafeBytes<Result>(column: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        guard let value = try withValueIfPresent(column: column, { bytes, _ in try body(bytes) }) else {
            throw PGError.decoding("column \(column) is NULL")
        }
        return value
    }

    /// Decodes the column with this name as `T`.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when there is no such column, it is NULL, or
    ///   of a type `T` cannot be decoded from.
    public func decode<T: PGDecodable>(_ type: T.Type = T.self, column name: String) throws -> T {
        guard let column = result.columnIndex(named: name) else {
            throw PGError.decoding("no column named \(name)")
        }
        return try decode(type, column: column)
    }

    /// Whether a column is NULL.
    /// - Throws: ``PGError`` when the column is out of range.
    public func isNull(column: Int) throws -> Bool {
        result.isNull(row: index, column: try result.checkedColumn(column))
    }
}
