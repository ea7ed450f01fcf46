import ArgumentParser
import Foundation
import TesseraPoolAPI

/// `tessera tokens [list] | create | revoke`: the controller's user tokens (admin token needed).
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "User tokens: who programs are when they reach nodes over the network. Needs an admin token.",
        subcommands: [TokensListCommand.self, TokensCreateCommand.self, TokensRevokeCommand.self], defaultSubcommand: TokensListCommand.self)

    /// Seconds in `30d`, `12h`, `90m`, `45s` or a bare number of seconds.
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let last = text.last, let unit = units[last], let n = Double(text.dropLast()), n > 0 { return n * unit }
        if let n = Double(text), n > 0 { return n }
        return nil
    }

    static func time(_ t: Double?) -> String {
        guard let t else { return "-" }
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: t)) + "Z"
    }
}

struct TokensListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every user token (secrets are never shown again).")
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table
    func run() async throws {
        try await reportingErrors {
            let tokens: [UserToken] = try await pool.client().get("/v1/tokens")
            if output == .json { return try printJSON(tokens) }
            let now = Date().timeIntervalSince1970
            printTable(["ID", "USER", "GROUP", "ROLE", "CREATED", "EXPIRES", "STATE"], tokens.map {
                [$0.id, $0.user, $0.group ?? "-", $0.role.rawValue, TokensCommand.time($0.createdAt), TokensCommand.time($0.expiresAt),
                 $0.validity(at: now).rawValue]
            })
        }
    }
}

struct TokensCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Issue a user token; prints its secret once (give it to the user as TESSERA_TOKEN).")
    @Option(help: "The user the token names.") var user: String
    @Option(help: "The user's group (a class, a lab).") var group: String?
    @Option(help: "user, or teacher (manages --group).") var role: String = "user"
    @Option(help: "Lifetime: 30d, 12h, 90m, 45s (default: until revoked).") var expires: String?
    @OptionGroup var pool: PoolOptions
    @Option(name: .shortAndLong, help: "table or json") var output: OutputFormat = .table

    func validate() throws {
        guard UserToken.Role(rawValue: role) != nil else { throw ValidationError("--role must be user or teacher, got '\(role)'") }
        if let expires, TokensCommand.seconds(expires) == nil {
            throw ValidationError("--expires must be a duration like 30d, 12h, 90m or 45s, got '\(expires)'")
        }
    }

    func run() async throws {
        try await reportingErrors {
            let request = TokenRequest(user: user, group: group, role: UserToken.Role(rawValue: role),
                                       expiresInSeconds: expires.flatMap(TokensCommand.seconds))
            let issued: IssuedToken = try await pool.client().post("/v1/tokens", request)
            if output == .json { return try printJSON(issued) }
            let t = issued.token
            FileHandle.standardError.write(Data("token \(t.id) for \(t.user)\(t.group.map { " (group \($0))" } ?? ""), \(t.role.rawValue), expires \(TokensCommand.time(t.expiresAt)); the secret is shown only now:\n".utf8))
            print(issued.secret)
        }
    }
}

struct TokensRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke a token: nodes refuse it within seconds and the leases it obtained end.")
    @Argument(help: "The token's id (tok-…), as `tessera tokens` lists it.") var id: String
    @OptionGroup var pool: PoolOptions
    func run() async throws {
        try await reportingErrors {
            let encoded = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
            let token: UserToken = try await pool.client().deleteReturning("/v1/tokens/\(encoded)")
            print("revoked \(token.id) of \(token.user)")
        }
    }
}
