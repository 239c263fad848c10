package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Lifetime says where a node attribute lives.
type Lifetime int

const (
	// Transient attributes live in the attribute manager (attrd) and vanish
	// when the node leaves the cluster ("reboot" lifetime).
	Transient Lifetime = iota
	// Permanent attributes live in the CIB's nodes section ("forever").
	Permanent
)

func (l Lifetime) crm() string {
	if l == Permanent {
		return "forever"
	}
	return "reboot"
}

// Attributes reads and writes node attributes. Agents use it for the states
// peers must see (Galera seqnos, replication positions) and for promotion
// scores; a fake stands in for it in the pure-core tests.
type Attributes interface {
	Get(ctx context.Context, node, name string, life Lifetime) (value string, ok bool, err error)
	Set(ctx context.Context, node, name, value string, life Lifetime) error
	Delete(ctx context.Context, node, name string, life Lifetime) error
}

// PromotionScoreName is the attribute Pacemaker reads a promotable clone's
// score from ("master-<resource>", the name crm_master writes).
func PromotionScoreName(resource string) string {
	name, _, _ := strings.Cut(resource, ":")
	return "master-" + name
}

// SetPromotionScore publishes score for resource on node; a negative score
// removes it, which makes the instance ineligible for promotion.
func SetPromotionScore(ctx context.Context, a Attributes, node, resource string, score int) error {
	if score < 0 {
		return a.Delete(ctx, node, PromotionScoreName(resource), Transient)
	}
	return a.Set(ctx, node, PromotionScoreName(resource), strconv.Itoa(score), Transient)
}

// CRMAttributes implements Attributes with Pacemaker's crm_attribute tool.
// It forks, so agents call it on state changes, not on every monitor.
type CRMAttributes struct {
	Program string // crm_attribute; "" means look it up in PATH
}

func (c CRMAttributes) program() string {
	if c.Program != "" {
		return c.Program
	}
	return "crm_attribute"
}

// attrArgs builds the crm_attribute argv for one operation.
func attrArgs(node, name string, life Lifetime, op ...string) []string {
	args := []string{"--type", "nodes", "--lifetime", life.crm(), "--name", name}
	if node != "" {
		args = append(args, "--node", node)
	}
	return append(args, op...)
}

func (c CRMAttributes) run(ctx context.Context, args []string) (string, error) {
	cmd := exec.CommandContext(ctx, c.program(), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", c.program(), strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (c CRMAttributes) Get(ctx context.Context, node, name string, life Lifetime) (string, bool, error) {
	out, err := c.run(ctx, attrArgs(node, name, life, "--query", "--quiet"))
	if err != nil {
		var ee *exec.ExitError
		// crm_attribute exits 105 (CRM_EX_NOSUCH) for an attribute that is not set.
		if errors.As(err, &ee) && ee.ExitCode() == 105 {
			return "", false, nil
		}
		return "", false, err
	}
	return strings.TrimSpace(out), true, nil
}

func (c CRMAttributes) Set(ctx context.Context, node, name, value string, life Lifetime) error {
	_, err := c.run(ctx, attrArgs(node, name, life, "--update", value))
	return err
}

func (c CRMAttributes) Delete(ctx context.Context, node, name string, life Lifetime) error {
	_, err := c.run(ctx, attrArgs(node, name, life, "--delete"))
	return err
}
