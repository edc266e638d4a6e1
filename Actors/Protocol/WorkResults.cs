namespace RlActors.Actors.Protocol;

/// <summary>A unit of work as a worker receives it.</summary>
public interface IWorkUnit : IRlMessage
{
    /// <summary>Experiment name.</summary>
    string Experiment { get; }
    /// <summary>The step.</summary>
    long Step { get; }
    /// <summary>The unit's index in the step.</summary>
    int Unit { get; }
    /// <summary>The policy version to work with.</summary>
    long PolicyVersion { get; }
}

/// <summary>A worker's result for one work unit.</summary>
public interface IUnitResult : IRlMessage
{
    /// <summary>Experiment name.</summary>
    string Experiment { get; }
    /// <summary>The step.</summary>
    long Step { get; }
    /// <summary>The unit's index in the step.</summary>
    int Unit { get; }
    /// <summary>The policy version the worker used.</summary>
    long PolicyVersion { get; }
    /// <summary>Who did the work (host:port/name).</summary>
    string WorkerId { get; }
    /// <summary>Items (groups) in the result, counted when it is dropped.</summary>
    int Items { get; }
}

/// <summary>The reply to a unit's <see cref="FollowUp"/>.</summary>
public interface IFollowUpResult : IRlMessage
{
    /// <summary>Experiment name.</summary>
    string Experiment { get; }
    /// <summary>The step.</summary>
    long Step { get; }
    /// <summary>The unit's index in the step.</summary>
    int Unit { get; }
}

/// <summary>A worker or service cannot work for this experiment at all (e.g. a task file missing on its node): the run ends.</summary>
public interface IWorkRefused : IRlMessage
{
    /// <summary>Experiment name.</summary>
    string Experiment { get; }
    /// <summary>Why the run cannot go on, as the failure says it.</summary>
    string Failure { get; }
}

/// <summary>Weights of one policy version as workers receive them (the message type is the kind's).</summary>
public interface IVersionedWeights : IRlMessage
{
    /// <summary>The version: the number of steps trained.</summary>
    long Version { get; }
    /// <summary>Where the bytes wait when they were too large for one remote message (the message then carries none), or null.</summary>
    Runtime.Weights.WeightsRef? Remote { get; }
    /// <summary>The same weights with their bytes in hand.</summary>
    IVersionedWeights WithBytes(byte[] bytes);
}
