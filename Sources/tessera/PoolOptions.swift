import ArgumentParser
import Foundation
import TesseraPoolAPI

/// Where the CLI finds the controller and its token: flags, then the environment (`TESSERA_CONTROLLER`,
/// `TESSERA_TOKEN`), then the per-user config file `~/.config/tessera/cli.json`
/// (`{"controller": "https://…", "token": "…", "caFile": "…/ca.pem"}`), then `https://127.0.0.1:7080`. The controller's
/// certificate is verified against `--ca-file`, `TESSERA_CA` or the file's `caFile`.
struct PoolOptions: ParsableArguments {
    @Option(help: "Controller URL (else $TESSERA_CONTROLLER, else ~/.config/tessera/cli.json, else https://127.0.0.1:7080).")
    var controller: String?

    @Option(help: "File holding the admin token (else $TESSERA_TOKEN, else ~/.config/tessera/cli.json).")
    var tokenFile: String?

    @Option(help: "CA bundle (PEM) the controller's HTTPS certificate must chain to (else $TESSERA_CA, else ~/.config/tessera/cli.json's caFile).")
    var caFile: String?

    struct ConfigFile: Codable { var controller: String?; var token: String?; var caFile: String? }

    static var configPath: String {
        let base = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"] ?? (NSHomeDirectory() + "/.config")
        return base + "/tessera/cli.json"
    }

    func client() throws -> ControllerClient {
        let env = ProcessInfo.processInfo.environment
        let file = FileManager.default.contents(atPath: PoolOptions.configPath).flatMap { try? JSONDecoder().decode(ConfigFile.self, from: $0) }
        let url = controller ?? env["TESSERA_CONTROLLER"] ?? file?.controller ?? "https://127.0.0.1:7080"
        let token: String
        if let tokenFile { token = try readToken(tokenFile) } else if let t = env["TESSERA_TOKEN"] { token = t } else if let t = file?.token { token = t } else {
            throw ValidationError("no token: pass --token-file, set TESSERA_TOKEN, or write \(PoolOptions.configPath)")
        }
        return ControllerClient(baseURL: url, token: token, caFile: caFile ?? ControllerClient.environmentCAFile ?? file?.caFile)
    }
}

/// Reads a token file: its first line, trimmed.
func readToken(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path),
          let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
          !line.isEmpty
    else { throw ValidationError("cannot read a token from \(path)") }
    return line
}

/// Tokens from a comma-separated environment variable and/or a file with one token a line.
func readTokens(file: String?, environment name: String) throws -> Set<String> {
    var tokens = Set((ProcessInfo.processInfo.environment[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    if let file {
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read token file \(file)") }
        tokens.formUnion(String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }
    return tokens
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

/// Prints a value as JSON (sorted keys, pretty) for `--output json`.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints rows as aligned columns.
func printTable(_ header: [String], _ rows: [[String]]) {
    let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    print(line(header))
    for r in rows { print(line(r)) }
}
