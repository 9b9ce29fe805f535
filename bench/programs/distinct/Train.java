// A JDK-heavy program bench/warm.sh trains the class-data-sharing archive with: the
// collections, streams, formatting and I/O classes typical exercise code loads.
import java.io.*;
import java.util.*;
import java.util.stream.*;
public class Train {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        Scanner s = new Scanner("3 1 2 4\nword");
        int n = s.nextInt();
        List<Integer> xs = new ArrayList<>();
        for (int i = 0; i < n; i++) xs.add(s.nextInt());
        Map<String, Integer> m = new HashMap<>(); m.put(s.next(), 1);
        TreeMap<Integer, Integer> t = new TreeMap<>(); t.put(1, 2);
        PriorityQueue<Long> q = new PriorityQueue<>(); q.add(3L);
        ArrayDeque<Integer> d = new ArrayDeque<>(); d.push(1);
        StringTokenizer st = new StringTokenizer("a b");
        StringBuilder sb = new StringBuilder();
        PrintWriter out = new PrintWriter(new BufferedWriter(new OutputStreamWriter(System.out)));
        out.printf("%d %.3f %s%n", n, xs.stream().mapToInt(Integer::intValue).average().orElse(0), xs.stream().map(String::valueOf).collect(Collectors.joining(",")));
        long[] a = new long[]{3, 1, 2}; Arrays.sort(a); Integer[] b = {3, 1}; Arrays.sort(b, Comparator.reverseOrder());
        System.out.println(String.format("%s %s", Arrays.toString(a), Math.random()) + in.readLine() + sb + st.nextToken() + m + t + q + d + java.math.BigInteger.ONE.add(java.math.BigInteger.TEN));
        out.flush();
    }
}
