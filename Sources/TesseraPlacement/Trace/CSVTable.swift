/// A CSV file split into a header and rows (RFC 4180: quoted fields, `""` escapes, line breaks inside quotes,
/// CRLF or LF), with each row's line number for error messages. Blank lines are skipped.
public struct CSVTable: Sendable {
    /// One data row: the fields and the line it starts on (1-based; the header is line 1).
    public struct Row: Sendable {
        public let line: Int
        public let fields: [String]
    }

    /// The column names, trimmed of surrounding spaces.
    public let header: [String]
    /// The data rows.
    public let rows: [Row]

    /// Parses `text`; `file` names the source in errors.
    public init(parsing text: String, file: String) throws(PlacementEngineError) {
        var records: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var wasQuoted = false
        var afterQuote = false
        var bytes = Array(text.utf8)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }

        func endField() {
            let value = String(decoding: field, as: UTF8.self)
            fields.append(wasQuoted ? value : value.trimmingASCIISpaces())
            field.removeAll(keepingCapacity: true)
            wasQuoted = false
            afterQuote = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Row(line: recordLine, fields: fields)) }
            fields.removeAll(keepingCapacity: true)
        }

        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        i += 1
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
            } else if byte == UInt8(ascii: ",") {
                endField()
            } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                if byte == UInt8(ascii: "\r"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else if byte == UInt8(ascii: "\"") && field.allSatisfy({ $0 == UInt8(ascii: " ") }) && !wasQuoted {
                field.removeAll()
                inQuotes = true
                wasQuoted = true
            } else if afterQuote {
                if byte != UInt8(ascii: " ") {
                    throw PlacementEngineError(.invalidTrace, "\(file):\(line): unexpected character after a closing quote")
                }
            } else {
                field.append(byte)
            }
            i += 1
        }
        if inQuotes { throw PlacementEngineError(.invalidTrace, "\(file):\(recordLine): quoted field never closed") }
        if !field.isEmpty || !fields.isEmpty || wasQuoted { endRecord() }

        guard let first = records.first else { throw PlacementEngineError(.invalidTrace, "\(file): empty file, expected a header line") }
        header = first.fields
        rows = Array(records.dropFirst())
        for row in rows where row.fields.count != header.count {
            throw PlacementEngineError(
                .invalidTrace, "\(file):\(row.line): \(row.fields.count) fields where the header has \(header.count)")
        }
    }

    /// The positions of columns `names`, or a clear error naming the first one missing and what the file has.
    public func columns(_ names: [String], file: String) throws(PlacementEngineError) -> [Int] {
        var positions: [Int] = []
        for name in names {
            guard let index = header.firstIndex(of: name) else {
                throw PlacementEngineError(
                    .invalidTrace, "\(file): missing column '\(name)' (header: \(header.joined(separator: ",")))")
            }
            positions.append(index)
        }
        return positions
    }
}

extension String {
    func trimmingASCIISpaces() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
