namespace RlActors.Rewards.Capo;

/// <summary>The judge's server did not answer the check before a run (a runtime condition: exit 1). The message is for users.</summary>
public sealed class JudgeUnreachableException(string message) : Exception(message);
