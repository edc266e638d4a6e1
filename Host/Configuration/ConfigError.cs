namespace RlActors.Host.Configuration;

/// <summary>Bad user input (a file, a key, a value). The command line prints the message and exits with code 2.</summary>
public sealed class ConfigError(string message) : Exception(message);
