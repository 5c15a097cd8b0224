// A PostgreSQL JDBC client for the proxy's real-client test (jdbc_clients_test.ts), run as a
// single-file program on the JRE: `java -cp postgresql.jar JdbcClient.java JDBC_URL USER PASSWORD`.
// It runs a prepared SELECT five times (pgjdbc switches to a named server-side statement at
// prepareThreshold, which the URL sets to 3), a batch of ten INSERTs with parameters, and an
// explicit transaction; then prints one JSON object with what it got back.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public class JdbcClient {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      try (Statement st = conn.createStatement()) {
        st.execute("CREATE TABLE jdbc_items (id int PRIMARY KEY, name text, amount bigint)");
      }
      List<String> doubled = new ArrayList<>();
      try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int * 2 AS doubled")) {
        for (int i = 1; i <= 5; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            doubled.add(String.valueOf(rs.getInt(1)));
          }
        }
      }
      int[] counts;
      try (PreparedStatement ps =
          conn.prepareStatement("INSERT INTO jdbc_items (id, name, amount) VALUES (?, ?, ?)")) {
        for (int i = 1; i <= 10; i++) {
          ps.setInt(1, i);
          ps.setString(2, "item " + i);
          ps.setLong(3, 1000L * i);
          ps.addBatch();
        }
        counts = ps.executeBatch();
      }
      conn.setAutoCommit(false);
      int updated;
      try (PreparedStatement ps =
          conn.prepareStatement("UPDATE jdbc_items SET amount = amount + ? WHERE id <= ?")) {
        ps.setLong(1, 5);
        ps.setInt(2, 4);
        updated = ps.executeUpdate();
      }
      conn.commit();
      long total;
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT sum(amount) FROM jdbc_items")) {
        rs.next();
        total = rs.getLong(1);
      }
      conn.commit();
      StringBuilder batch = new StringBuilder();
      for (int c : counts) batch.append(batch.length() == 0 ? "" : ",").append(c);
      System.out.println("{\"doubled\":[" + String.join(",", doubled) + "],\"batch\":[" + batch
          + "],\"updated\":" + updated + ",\"total\":" + total + "}");
    }
  }
}
