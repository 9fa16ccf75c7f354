-- Writes that trust a row as this process last wrote it carry the version (xmin) the row must
-- still be at, and return a row only when it is; the statement that holds them ends with
-- trading.expect_rows(matched, expected), which fails it (and so all of it) as a serialisation
-- failure when one is short, and otherwise answers the writing transaction's id: the version
-- every row the statement wrote is at now.

CREATE FUNCTION trading.expect_rows(matched BIGINT, expected INTEGER) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF matched <> expected THEN
    RAISE EXCEPTION '% of % rows changed since this process last wrote them', expected - matched, expected
      USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN pg_current_xact_id()::xid::text;
END
$$;
