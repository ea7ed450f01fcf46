import Logging

/// Sends every logger's output to standard error at `level` (a `Logger.Level` name; unknown names mean info).
/// Only commands call this, once, before creating loggers.
func bootstrapLogging(level: String) {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
