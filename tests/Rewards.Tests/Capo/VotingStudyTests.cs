using RlActors.Rewards.Capo;

namespace RlActors.Rewards.Tests.Capo;

public class CapoVotingStudyTests
{
    [Fact]
    public void Synthetic_responses_are_wrong_exactly_where_they_were_corrupted_and_reproducible()
    {
        var responses = VotingStudy.SyntheticResponses(200, 0.4, seed: 3);
        var again = VotingStudy.SyntheticResponses(200, 0.4, seed: 3);
        int wrong = 0, steps = 0;
        for (int i = 0; i < responses.Count; i++)
        {
            var (problem, response, key) = responses[i];
            Assert.Equal($"synthetic/{i}", key);
            Assert.Equal(problem.OperationCount, response.Steps.Count);
            Assert.All(response.Steps, s => Assert.True(s.WellFormed));
            Assert.Equal(response.FormatNumbered(), again[i].Response.FormatNumbered());
            int[] truth = OracleJudge.WrongSteps(problem, response);
            wrong += truth.Length;
            steps += response.Steps.Count;
            // Each corruption is flagged once, where it was made; an uncorrupted response is right.
            if (truth.Length == 0)
                Assert.True(Environments.Arithmetic.ArithmeticVerifier.IsCorrect(problem, response));
        }
        Assert.InRange((double)wrong / steps, 0.33, 0.47);
    }

    [Fact]
    public void With_independent_errors_majority_voting_improves_with_N_and_intersection_degrades()
    {
        var responses = VotingStudy.SyntheticResponses(400, 0.4, seed: 11);
        VotingStudyResult result = VotingStudy.Run(responses, flipRate: 0.2, correlation: 0.0, ns: [1, 2, 4, 8], seed: 5);

        Assert.Equal(16, result.Rows.Count);
        Assert.True(result.Steps > 1000);
        double Majority(int n) => result.Row(VoteRule.Majority, n).F1;
        double Intersection(int n) => result.Row(VoteRule.Intersection, n).F1;

        // With N = 1 every rule is the single critique.
        Assert.All(result.Rows.Where(r => r.N == 1), r => Assert.Equal(Majority(1), r.F1));
        // A strict majority of 2 is their intersection, so the gain starts at N = 4.
        Assert.Equal(Intersection(2), Majority(2));
        Assert.True(Majority(4) > Majority(1));
        Assert.True(Majority(8) > Majority(4));
        Assert.True(Majority(8) >= 0.9, $"majority F1 at N = 8 is {Majority(8):F3}");
        Assert.True(Intersection(2) > Intersection(4));
        Assert.True(Intersection(4) > Intersection(8));
        Assert.True(result.Row(VoteRule.Union, 8).Recall > result.Row(VoteRule.Union, 1).Recall);
        Assert.Contains("| majority |", result.ToMarkdown());
    }

    [Fact]
    public void Correlated_errors_leave_less_for_voting_to_fix()
    {
        var responses = VotingStudy.SyntheticResponses(300, 0.4, seed: 11);
        double independent = VotingStudy.Run(responses, 0.2, 0.0, [8], seed: 5).Row(VoteRule.Majority, 8).F1;
        double correlated = VotingStudy.Run(responses, 0.2, 0.8, [8], seed: 5).Row(VoteRule.Majority, 8).F1;
        double single = VotingStudy.Run(responses, 0.2, 0.8, [1], seed: 5).Row(VoteRule.Majority, 1).F1;
        Assert.True(correlated < independent);
        Assert.True(correlated - single < independent - single);
    }

    [Fact]
    public void The_study_is_deterministic_in_its_seed()
    {
        var responses = VotingStudy.SyntheticResponses(50, 0.4, seed: 1);
        string a = VotingStudy.Run(responses, 0.2, 0.3, [1, 3], seed: 9).ToMarkdown();
        string b = VotingStudy.Run(responses, 0.2, 0.3, [3, 1], seed: 9).ToMarkdown();
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => VotingStudy.Run(responses, 0.2, 0, [0], seed: 9));
    }
}
