console.log("hello", Math.random());
