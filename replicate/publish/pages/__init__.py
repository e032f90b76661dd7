"""Page formatters: the tables, sentences and glued numbers each book page shows, from results."""
