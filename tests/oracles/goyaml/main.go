package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

type result struct {
	JSON  *string `json:"json,omitempty"`
	Error *string `json:"error,omitempty"`
}

func main() {
	var docs []string
	if err := json.NewDecoder(os.Stdin).Decode(&docs); err != nil {
		panic(err)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	out := make([]result, 0, len(docs))
	for _, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			s := err.Error()
			out = append(out, result{Error: &s})
		} else {
			s := string(j)
			out = append(out, result{JSON: &s})
		}
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(w, string(b))
}
