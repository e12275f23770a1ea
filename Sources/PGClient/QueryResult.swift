import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The rows a statement returned.
///
/// A compact copy of libpq's result, made on the I/O thread as the result arrives, which then
/// frees libpq's result at once: what a caller holds until its task runs is one block of about
/// the size of its data (a libpq result takes at least 2 KB in three or more blocks), and libpq's
/// memory is freed by the thread that allocated it, so it never crosses to the workers that free
/// results (a cross-thread `free` contends for the allocating thread's malloc arena).
///
/// Access is typed and bounds-checked: a row or column out of range, a NULL or a value of another
/// type is a ``PGError`` with code ``PGError/Code/decoding``, never a trap. Results are immutable
/// and may be shared across tasks.
public final class QueryResult: Sendable {
    /// The number of rows.
    public let rowCount: Int
    /// The number of columns.
    public let columnCount: Int
    /// The number of rows the statement inserted, updated or deleted (0 for other statements).
    public let affectedRows: Int

    /// One allocation, owned by this object (freed in `deinit` and nowhere else), written only
    /// in `init`: per column (type OID, name start, name length), then per cell in row order
    /// (value start, value length or -1 for NULL), as `Int`s; then the names' and values' bytes.
    private nonisolated(unsafe) let storage: UnsafeMutableRawPointer
    private static let intsPerColumn = 3
    private static let intsPerCell = 2

    /// Copies a libpq result; the caller still owns `result` and clears it.
    init(copying result: OpaquePointer) {
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        rowCount = rows
        columnCount = columns
        affectedRows = Self.count(in: PQcmdTuples(result))

        var byteCount = 0
        for column in 0..<Int32(columns) {
            if let name = PQfname(result, column) { byteCount += strlen(name) }
        }
        for row in 0..<Int32(rows) {
            for column in 0..<Int32(columns) where PQgetisnull(result, row, column) == 0 {
                byteCount += Int(PQgetlength(result, row, column))
            }
        }
        let intCount = columns * Self.intsPerColumn + rows * columns * Self.intsPerCell
        let tableSize = intCount * MemoryLayout<Int>.stride
        storage = .allocate(byteCount: max(tableSize + byteCount, 1), alignment: MemoryLayout<Int>.alignment)
        let table = storage.bindMemory(to: Int.self, capacity: intCount)
        let bytes = storage + tableSize
        var next = 0
        func append(_ source: UnsafeRawPointer?, _ count: Int) -> Int {
            let start = next
            if let source, count > 0 { (bytes + next).copyMemory(from: source, byteCount: count) }
            next += count
            return start
        }
        for column in 0..<columns {
            let name = PQfname(result, Int32(column))
            let nameLength = name.map { strlen($0) } ?? 0
            table[column * Self.intsPerColumn] = Int(PQftype(result, Int32(column)))
            table[column * Self.intsPerColumn + 1] = append(name, nameLength)
            table[column * Self.intsPerColumn + 2] = nameLength
        }
        var cell = columns * Self.intsPerColumn
        for row in 0..<Int32(rows) {
            for column in 0..<Int32(columns) {
                if PQgetisnull(result, row, column) == 1 {
                    table[cell] = 0
                    table[cell + 1] = -1
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    table[cell] = append(PQgetvalue(result, row, column), length)
                    table[cell + 1] = length
                }
                cell += Self.intsPerCell
            }
        }
    }

    deinit { storage.deallocate() }

    /// The row count libpq reports for a command ("" for statements that have none), without
    /// building a `String`.
    private static func count(in text: UnsafePointer<CChar>?) -> Int {
        guard var digit = text else { return 0 }
        var value = 0
        while case let byte = UInt8(bitPattern: digit.pointee), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (tens, tensOverflowed) = value.multipliedReportingOverflow(by: 10)
            let (sum, sumOverflowed) = tens.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !tensOverflowed && !sumOverflowed else { return Int.max }
            value = sum
            digit += 1
        }
        return value
    }

    private var table: UnsafePointer<Int> { UnsafePointer(storage.assumingMemoryBound(to: Int.self)) }

    private var bytes: UnsafeRawPointer {
        UnsafeRawPointer(storage) + (columnCount * Self.intsPerColumn + rowCount * columnCount * Self.intsPerCell) * MemoryLayout<Int>.stride
    }

    private func nameBytes(_ column: Int) -> UnsafeRawBufferPointer {
        let entry = table + column * Self.intsPerColumn
        return UnsafeRawBufferPointer(start: bytes + entry[1], count: entry[2])
    }

    /// The name of a column, or `nil` when out of range.
    public func columnName(_ column: Int) -> String? {
        guard column >= 0, column < columnCount else { return nil }
        return String(decoding: nameBytes(column), as: UTF8.self)
    }

    /// The index of the column with this name, or `nil`.
    ///
    /// Matches as libpq's `PQfnumber` does: an exact match first; otherwise unquoted parts of
    /// `name` are folded to lower case and double-quoted parts taken as they are (`""` inside
    /// quotes is one quote), as SQL treats identifiers.
    public func columnIndex(named name: String) -> Int? {
        guard !name.isEmpty else { return nil }
        let exact = Array(name.utf8)
        if let index = firstColumn(named: exact) { return index }
        var folded = [UInt8]()
        var inQuotes = false
        var position = 0
        while position < exact.count {
            let byte = exact[position]
            if byte == UInt8(ascii: "\"") {
                if inQuotes && position + 1 < exact.count && exact[position + 1] == byte {
                    folded.append(byte)
                    position += 1
                } else {
                    inQuotes.toggle()
                }
            } else if inQuotes || byte < UInt8(ascii: "A") || byte > UInt8(ascii: "Z") {
                folded.append(byte)
            } else {
                folded.append(byte + 32)
            }
            position += 1
        }
        return firstColumn(named: folded)
    }

    private func firstColumn(named name: [UInt8]) -> Int? {
        (0..<columnCount).first { nameBytes($0).elementsEqual(name) }
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

    func checkedColumn(_ column: Int) throws -> Int {
        guard column >= 0, column < columnCount else {
            throw PGError.decoding("column \(column) out of range (\(columnCount) columns)")
        }
        return column
    }

    /// A cell's (start, length) entry; `row` and `column` are in range.
    private func cell(row: Int, column: Int) -> UnsafePointer<Int> {
        table + columnCount * Self.intsPerColumn + (row * columnCount + column) * Self.intsPerCell
    }

    func isNull(row: Int, column: Int) -> Bool { cell(row: row, column: column)[1] < 0 }

    func type(of column: Int) -> UInt32 { UInt32(truncatingIfNeeded: table[column * Self.intsPerColumn]) }

    /// A cell's bytes, inside this result's storage: valid only while the result lives.
    func valueBytes(row: Int, column: Int) -> UnsafeRawBufferPointer {
        let entry = cell(row: row, column: column)
        return UnsafeRawBufferPointer(start: bytes + entry[0], count: max(entry[1], 0))
    }
}

/// One row of a ``QueryResult``.
public struct Row: Sendable {
    @usableFromInline let result: QueryResult
    /// The row's index in its result.
    public let index: Int

    // The generic accessors below are inlinable shells around one non-generic look-up
    // (`cell(_:)`): a caller in another module, such as the session store reading every row it
    // loads, then runs them specialized for its own types, where an out-of-line generic function
    // looked up type metadata at run time on each call (about 1% of a get's client CPU).

    /// Decodes a column as `T`.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range, NULL, or
    ///   of a type `T` cannot be decoded from.
    @inlinable
    public func decode<T: PGDecodable>(_ type: T.Type = T.self, column: Int) throws -> T {
        guard let value = try decodeIfPresent(type, column: column) else {
            throw PGError.decoding("column \(column) is NULL; decode it as an optional")
        }
        return value
    }

    /// Decodes a column as `T`, or returns `nil` when it is NULL.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range or of a type
    ///   `T` cannot be decoded from.
    @inlinable
    public func decodeIfPresent<T: PGDecodable>(_ type: T.Type = T.self, column: Int) throws -> T? {
        try withExtendedLifetime(result) {
            guard let (bytes, oid) = try cell(column) else { return nil }
            return try T.decode(pgBinary: bytes, type: oid)
        }
    }

    /// Calls `body` with a column's bytes as the server sent them (binary format), without
    /// copying them again: for large `bytea` values read once.
    ///
    /// The buffer is valid only during the call.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range or NULL,
    ///   or what `body` throws.
    @inlinable
    public func withUnsafeBytes<Result>(column: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        try withExtendedLifetime(result) {
            guard let (bytes, _) = try cell(column) else { throw PGError.decoding("column \(column) is NULL") }
            return try body(bytes)
        }
    }

    /// A column's bytes and type OID, or `nil` when it is NULL. The bytes belong to `result`:
    /// use them only while it is kept alive.
    /// - Throws: ``PGError`` (``PGError/Code/decoding``) when the column is out of range.
    @usableFromInline
    func cell(_ column: Int) throws -> (bytes: UnsafeRawBufferPointer, type: UInt32)? {
        let column = try result.checkedColumn(column)
        if result.isNull(row: index, column: column) { return nil }
        return (result.valueBytes(row: index, column: column), result.type(of: column))
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
