import TesseraClientCore

/// The libcudart faces call the process's client core by the runtime's old name.
typealias Runtime = ClientCore
