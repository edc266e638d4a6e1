using Npgsql;
using RlActors.Actors.Persistence;

namespace RlActors.Persistence.Tests;

public class StoreLocationTests
{
    private static readonly string Base = Path.Combine(Path.GetTempPath(), "rl-base");

    [Fact]
    public void Default_value_is_sqlite_under_runs_relative_to_the_base_directory()
    {
        var location = StoreLocation.Parse(StoreLocation.DefaultValue, Base);
        Assert.Equal(StoreKind.Sqlite, location.Kind);
        Assert.Equal(Path.Combine(Base, "runs", "experiments.db"), location.SqlitePath);
        Assert.Equal("SQLite.MS", location.ProviderName);
        Assert.Contains(location.SqlitePath!, location.ConnectionString);
        Assert.Equal("sqlite:" + location.SqlitePath, location.Display);
    }

    [Theory]
    [InlineData("sqlite:/var/lib/rl/x.db", "/var/lib/rl/x.db")]
    [InlineData("sqlite:a/../b.db", "b.db")]
    [InlineData("SQLite: data/exp.sqlite ", "data/exp.sqlite")]
    public void Sqlite_paths_are_absolute_or_resolved_against_the_base(string value, string expected)
    {
        var location = StoreLocation.Parse(value, Base);
        Assert.Equal(StoreKind.Sqlite, location.Kind);
        Assert.Equal(Path.GetFullPath(Path.Combine(Base, expected)), location.SqlitePath);
    }

    [Theory]
    [InlineData("postgresql://rl:secret@db.example:5433/experiments", "db.example", 5433, "rl", "secret", "experiments")]
    [InlineData("postgres://rl@localhost/exp", "localhost", 5432, "rl", null, "exp")]
    [InlineData("postgresql://u%40corp:p%40ss%3Aw@127.0.0.1:6000/my%20db", "127.0.0.1", 6000, "u@corp", "p@ss:w", "my db")]
    [InlineData("Host=localhost;Port=5433;Username=postgres;Database=rl", "localhost", 5433, "postgres", null, "rl")]
    [InlineData("host=pg1;database=runs;username=me;password=pw", "pg1", 5432, "me", "pw", "runs")]
    public void Postgres_uris_and_connection_strings_parse(string value, string host, int port, string user, string? password, string db)
    {
        var location = StoreLocation.Parse(value, Base);
        Assert.Equal(StoreKind.Postgres, location.Kind);
        Assert.Equal("PostgreSQL.15", location.ProviderName);
        Assert.Null(location.SqlitePath);
        var cs = new NpgsqlConnectionStringBuilder(location.ConnectionString);
        Assert.Equal(host, cs.Host);
        Assert.Equal(port, cs.Port);
        Assert.Equal(user, cs.Username);
        Assert.Equal(password, cs.Password);
        Assert.Equal(db, cs.Database);
        if (password is not null) Assert.DoesNotContain(password, location.Display);
        Assert.IsType<NpgsqlConnection>(location.CreateConnection());
    }

    [Fact]
    public void Uri_query_options_become_connection_string_options()
    {
        var location = StoreLocation.Parse("postgresql://rl@h/db?sslmode=disable&timeout=7");
        var cs = new NpgsqlConnectionStringBuilder(location.ConnectionString);
        Assert.Equal(SslMode.Disable, cs.SslMode);
        Assert.Equal(7, cs.Timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("sqlite:")]
    [InlineData("sqlite::memory:")]
    [InlineData("sqlite:runs/")]
    [InlineData("experiments.db")]
    [InlineData("mysql://u:p@h/db")]
    [InlineData("postgresql://h:5432/")]
    [InlineData("postgresql://h:notaport/db")]
    [InlineData("postgresql://u@h/db?bogus_option=1")]
    [InlineData("Host=;Database=x")]
    [InlineData("Frobnicate=yes;Database=x")]
    public void Bad_values_are_refused_with_a_message_naming_the_value(string value)
    {
        var e = Assert.Throws<StoreLocationException>(() => StoreLocation.Parse(value, Base));
        Assert.Contains($"'{value}'", e.Message);
        Assert.False(StoreLocation.TryParse(value, Base, out var location, out var error));
        Assert.Null(location);
        Assert.Equal(e.Message, error);
    }

    [Fact]
    public void Errors_never_echo_a_password()
    {
        var e = Assert.Throws<StoreLocationException>(() => StoreLocation.Parse("postgresql://rl:hunter2@h:5432/"));
        Assert.DoesNotContain("hunter2", e.Message);
        Assert.Contains("postgresql://rl:***@h:5432/", e.Message);
        e = Assert.Throws<StoreLocationException>(() => StoreLocation.Parse("Password=hunter2;Database=x"));
        Assert.DoesNotContain("hunter2", e.Message);
    }
}
