using System.Text;
using RlActors.Environments.Arithmetic;

namespace RlActors.Rewards.Capo;

/// <summary>
/// One response to be critiqued by a generative process reward model (GenPRM), with the chat messages that ask
/// for the critique.
/// </summary>
/// <param name="ResponseKey">
/// A key unique to this response within the experiment (e.g. "step-12/slot-3/4"). Judges that draw random numbers
/// (<see cref="NoisyOracleJudge"/>) seed from it, so it must be stable: the same response gets the same key.
/// </param>
/// <param name="Problem">The problem the response answers.</param>
/// <param name="Response">The response split into steps.</param>
/// <param name="StepCount">The number of numbered steps shown to the judge (= <c>Response.Steps.Count</c>).</param>
/// <param name="System">The system message: the judge's role and the rules of judging.</param>
/// <param name="User">The user message: the problem, the numbered steps and the required form of the conclusion.</param>
/// <param name="TemplateVersion">The version of the template that wrote the messages (<see cref="CritiquePrompt.Version"/>).</param>
public sealed record CritiqueRequest(
    string ResponseKey,
    ArithmeticProblem Problem,
    ParsedResponse Response,
    int StepCount,
    string System,
    string User,
    string TemplateVersion)
{
    /// <summary>
    /// The response's generated ids, when known. Judges that forward the request elsewhere (voter actors on other
    /// nodes) send these so the far side rebuilds exactly the same parsed response.
    /// </summary>
    public IReadOnlyList<int>? CompletionTokens { get; init; }
}

/// <summary>
/// The critique prompt of CAPO: the judge analyses every step of a response on its own and ends with one line
/// naming the wrong steps, <c>Wrong steps: [i, j]</c> or <c>Wrong steps: none</c>, which
/// <see cref="CritiqueParser"/> reads. The template is versioned: change <see cref="Version"/> whenever the wording
/// changes, so critiques collected under different prompts are never mixed up unknowingly.
/// </summary>
public static class CritiquePrompt
{
    /// <summary>The version of the template, recorded in every <see cref="CritiqueRequest"/>.</summary>
    public const string Version = "capo-critique/v1";

    /// <summary>The system message of <see cref="Version"/>.</summary>
    public const string SystemMessage =
        "You are a careful teacher who checks a student's step-by-step solution to an arithmetic problem. "
        + "The problem is computed one operation at a time, from left to right: step 1 applies the first operation "
        + "to the first two numbers, and every later step applies the next operation of the problem to the result "
        + "written in the step before it. Judge every step on its own: a step is wrong when it uses the wrong "
        + "numbers or operator, or when its calculation is wrong, or when it is not a calculation at all. "
        + "A step that correctly continues from an earlier mistake is not wrong; only the step that made the "
        + "mistake is. Steps beyond the operations of the problem are wrong.";

    /// <summary>Builds the critique request for one response.</summary>
    /// <param name="responseKey">A stable key unique to the response (see <see cref="CritiqueRequest.ResponseKey"/>).</param>
    /// <param name="problem">The problem.</param>
    /// <param name="response">The parsed response.</param>
    public static CritiqueRequest Build(string responseKey, ArithmeticProblem problem, ParsedResponse response)
    {
        ArgumentNullException.ThrowIfNull(responseKey);
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(response);

        int steps = response.Steps.Count;
        var user = new StringBuilder();
        user.Append("Problem: ").Append(problem.Expression).Append('\n')
            .Append("It has ").Append(problem.OperationCount)
            .Append(problem.OperationCount == 1 ? " operation" : " operations")
            .Append(", so a correct solution has ").Append(problem.OperationCount)
            .Append(problem.OperationCount == 1 ? " step" : " steps").Append(".\n\n")
            .Append("Student's solution (").Append(steps).Append(steps == 1 ? " step" : " steps").Append("):\n")
            .Append(response.FormatNumbered()).Append("\n\n")
            .Append("Analyse the steps one by one and say for each whether it is correct and why. ")
            .Append("Then finish with exactly one line listing the numbers of the wrong steps, in this form:\n")
            .Append("Wrong steps: [i, j]\n")
            .Append("or, when every step is correct:\n")
            .Append("Wrong steps: none");
        return new CritiqueRequest(responseKey, problem, response, steps, SystemMessage, user.ToString(), Version);
    }
}
