/// A coding key for any name; with ``CaseInsensitiveContainer`` it reads Go's untagged JSON, whose decoder
/// matches field names case-insensitively.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Decodes the fields of a JSON object by name, ignoring case, as kube-scheduler's Go decoder does.
struct CaseInsensitiveContainer {
    private let container: KeyedDecodingContainer<AnyCodingKey>
    private let keys: [String: AnyCodingKey]

    init(_ decoder: any Decoder) throws {
        container = try decoder.container(keyedBy: AnyCodingKey.self)
        var keys: [String: AnyCodingKey] = [:]
        for key in container.allKeys { keys[key.stringValue.lowercased()] = key }
        self.keys = keys
    }

    /// The value named `name` in any case; `nil` when absent or `null`.
    func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T? {
        guard let key = keys[name.lowercased()] else { return nil }
        return try container.decodeIfPresent(type, forKey: key)
    }
}
